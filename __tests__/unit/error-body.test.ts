import { extractErrorMessage } from '../../src/transport/error-body.js';

describe('extractErrorMessage', () => {
  it.each([
    ['{"message":"quota hit"}', 'quota hit'],
    ['{"msg":"already exists","code":"already_exists"}', 'already exists'],
    ['{"errors":"bad name"}', 'bad name'],
    ['{"errors":[{"message":"a"},{"message":"b"}]}', 'a; b'],
    ['{"errors":["x","y"]}', 'x; y'],
    ['{"value":{"message":"tfs says no"}}', 'tfs says no'],
    [
      '<?xml version="1.0"?><Error><Code>Md5Mismatch</Code><Message>MD5 differs\nRequestId:1</Message></Error>',
      'MD5 differs',
    ],
    ['<html><title>502 Bad Gateway</title></html>', '502 Bad Gateway'],
    ['plain text error\nsecond line', 'plain text error'],
  ])('reads %j', (body, message) => {
    expect(extractErrorMessage(body)).toBe(message);
  });

  it('returns undefined for an empty body', () => {
    expect(extractErrorMessage('  ')).toBeUndefined();
  });
});
