import { Counter, Gauge, Histogram, Registry } from '../../src/server/observe/prometheus.js';
import { methodName, pathOnly, routeName } from '../../src/server/observe/route-name.js';

describe('Prometheus text exposition', () => {
  it('renders HELP, TYPE and samples; histogram buckets are cumulative with +Inf, _sum and _count', () => {
    const registry = new Registry();
    const counter = registry.add(new Counter('t_total', 'A counter.'));
    const gauge = registry.add(new Gauge('t_gauge', 'A gauge.'));
    const histogram = registry.add(new Histogram('t_seconds', 'A histogram.', [0.1, 1]));
    counter.inc({ route: 'blob' });
    counter.inc({ route: 'blob' }, 2);
    gauge.set({}, 1.5);
    histogram.observe({ route: 'x' }, 0.05);
    histogram.observe({ route: 'x' }, 0.5);
    histogram.observe({ route: 'x' }, 5);
    expect(registry.render()).toBe(
      [
        '# HELP t_total A counter.',
        '# TYPE t_total counter',
        't_total{route="blob"} 3',
        '# HELP t_gauge A gauge.',
        '# TYPE t_gauge gauge',
        't_gauge 1.5',
        '# HELP t_seconds A histogram.',
        '# TYPE t_seconds histogram',
        't_seconds_bucket{route="x",le="0.1"} 1',
        't_seconds_bucket{route="x",le="1"} 2',
        't_seconds_bucket{route="x",le="+Inf"} 3',
        't_seconds_sum{route="x"} 5.55',
        't_seconds_count{route="x"} 3',
        '',
      ].join('\n'),
    );
  });

  it('escapes backslash, double quote and newline in label values', () => {
    const registry = new Registry();
    registry.add(new Gauge('g', 'h.')).set({ v: 'a\\b"c\nd' }, 1);
    expect(registry.render()).toContain('g{v="a\\\\b\\"c\\nd"} 1');
  });
});

describe('route and method names', () => {
  it('maps every path to one of a fixed set of names, never to the path itself', () => {
    expect(routeName('/twirp/github.actions.results.api.v1.ArtifactService/ListArtifacts')).toBe(
      'twirp_ListArtifacts',
    );
    expect(routeName('/twirp/github.actions.results.api.v1.ArtifactService/Whatever')).toBe('twirp_other');
    expect(routeName(`/devstoreaccount1/artifacts/${'ab'.repeat(16)}`)).toBe('blob');
    expect(routeName('/_apis/pipelines/workflows/123/artifacts')).toBe('legacy_artifacts');
    expect(routeName('/_apis/resources/Containers/7')).toBe('legacy_container');
    expect(routeName('/repos/o/r/actions/runs/9/artifacts')).toBe('rest_run_artifacts');
    expect(routeName('/repos/o/r/actions/artifacts')).toBe('rest_artifacts');
    expect(routeName('/repos/o/r/actions/artifacts/5')).toBe('rest_artifact');
    expect(routeName('/repos/o/r/actions/artifacts/5/zip')).toBe('rest_archive');
    expect(routeName('/metrics')).toBe('metrics');
    expect(routeName('/status')).toBe('status');
    expect(routeName('/anything/else%1b')).toBe('other');
  });

  it('drops the query (where signed URLs carry their signature) and bounds methods', () => {
    expect(pathOnly('/devstoreaccount1/artifacts/x?sig=secret&se=1')).toBe('/devstoreaccount1/artifacts/x');
    expect(methodName('PATCH')).toBe('PATCH');
    expect(methodName('PROPFIND')).toBe('OTHER');
    expect(methodName(undefined)).toBe('OTHER');
  });
});
