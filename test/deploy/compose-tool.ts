/**
 * The compose validator available here: Debian's `docker-compose` (v1.29, what .ci/run installs)
 * or the `docker compose` v2 plugin. None at all is an error, never a skip: CI installs one, and a
 * skipped check would pass unseen.
 */
import { spawnSync } from 'node:child_process';

export function composeCommand(): string[] {
  for (const cmd of [['docker-compose'], ['docker', 'compose']]) {
    const r = spawnSync(cmd[0]!, [...cmd.slice(1), 'version'], { encoding: 'utf8' });
    if (r.status === 0) return cmd;
  }
  throw new Error('neither `docker-compose` nor `docker compose` is installed: `apt-get install docker-compose` (.ci/run does)');
}

export function runCompose(args: string[], cwd: string): { status: number | null; stdout: string; stderr: string } {
  const [bin, ...pre] = composeCommand();
  const r = spawnSync(bin!, [...pre, ...args], { cwd, encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}
