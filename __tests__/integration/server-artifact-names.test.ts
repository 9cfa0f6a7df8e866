/**
 * Both protocols of `ferry serve` refuse and accept the same artifact names as the client
 * (core/artifact-name.ts): a real server on a loopback port, raw requests.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';

import { artifactNameProblem } from '../../src/core/artifact-name.js';
import { artifactsUrl, rawRequest, startFixture, type ServerFixture } from '../helpers/server-fixture.js';

const RUN = 'ce7f54c7-61c7-4aae-887f-30da475f5f1a';
const JOB = 'ca395085-040a-526b-2ce8-bdc85f692774';
const RPC = 'twirp/github.actions.results.api.v1.ArtifactService/CreateArtifact';

let fixture: ServerFixture;
beforeAll(async () => {
  fixture = await startFixture();
});
afterAll(async () => {
  await fixture.dispose();
});

async function createLegacy(runId: string, name: string): Promise<{ status: number; text: string }> {
  const res = await rawRequest('POST', artifactsUrl(fixture.server, runId), {
    headers: { 'Content-Type': 'application/json', Accept: 'application/json;api-version=6.0-preview' },
    body: Buffer.from(JSON.stringify({ Type: 'actions_storage', Name: name })),
  });
  return { status: res.status, text: res.json<{ message: string }>().message };
}

async function createResults(name: string): Promise<{ status: number; text: string }> {
  const res = await fetch(`${fixture.server.url}${RPC}`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ workflow_run_backend_id: RUN, workflow_job_run_backend_id: JOB, name }),
  });
  return { status: res.status, text: ((await res.json()) as { msg: string }).msg };
}

describe('one artifact name rule for the client and both server protocols', () => {
  const refused: Array<[string, string, RegExp]> = [
    ['empty', '', /between 1 and 256 characters, got 0/],
    ['257 characters', 'x'.repeat(257), /between 1 and 256 characters, got 257/],
    ['a forbidden character', 'a:b', /forbidden character ":"/],
    ['an escape character', 'bad\u001bname', /U\+001B at index 3 is a control character/],
    ['NUL', 'x\u0000y', /U\+0000/],
    ['..', '..', /is not valid/],
  ];

  it.each(refused)('refuses %s on both protocols, as the client does', async (_what, name, message) => {
    expect(artifactNameProblem(name)).toBeDefined();
    const legacy = await createLegacy('101', name);
    expect(legacy.status).toBe(400);
    expect(legacy.text).toMatch(message);
    const results = await createResults(name);
    expect(results.status).toBe(400);
    expect(results.text).toMatch(message);
  });

  it('accepts 256 characters on both protocols, however many UTF-8 bytes', async () => {
    const name = '漢'.repeat(256);
    expect(artifactNameProblem(name)).toBeUndefined();
    expect((await createLegacy('102', name)).status).toBe(201);
    expect((await createResults(name)).status).toBe(200);
  });
});
