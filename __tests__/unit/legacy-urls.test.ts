import { itemUrl, itemUrlBuilder } from '../../src/backends/legacy/urls.js';

describe('itemUrlBuilder', () => {
  const containers = [
    'http://127.0.0.1:8080/_apis/resources/Containers/42',
    'https://pipelines.example/abc/_apis/resources/Containers/7/',
    'http://EXAMPLE.com:80/a%20b/Containers/1',
    'http://127.0.0.1/Containers/1?scope=x y',
    'http://127.0.0.1/Containers/1#frag',
  ];
  const asciiPrintable = Array.from({ length: 95 }, (_, i) => String.fromCharCode(32 + i)).join('');
  const paths = [
    'artifact/plain.txt',
    'artifact/with space/a b.txt',
    "artifact/odd/hash#pct%plus+!'()~*-._.txt",
    'artifact/中文/文件.txt',
    'artifact/emoji/😀.bin',
    `artifact/${asciiPrintable}`,
    'artifact/lone\ud800surrogate',
    'artifact/\u0001control',
  ];

  test.each(containers)('matches searchParams.append for every path under %s', (container) => {
    const build = itemUrlBuilder(container);
    for (const p of paths) expect(build(p)).toBe(itemUrl(container, p));
  });
});
