/**
 * Nodes as separate hosts on one machine: one network namespace per node, joined by veth
 * pairs to a bridge in the test's namespace (which the test's clients use). Partitions are
 * iptables DROP rules inside a node's namespace. Needs root, iproute2 and iptables (.ci/run
 * installs them); everything is created with a per-run prefix and removed by `teardown`.
 *
 *   bridge  <prefix>br   10.<subnet>.0.254/24   (the test process's side)
 *   node i  <prefix>n<i> 10.<subnet>.0.<i>/24   inside netns <prefix>ns<i>
 */
import { execFileSync } from 'node:child_process';

export interface NetnsLab {
  readonly hosts: readonly string[];
  readonly namespaces: readonly string[];
  /** Drops all traffic between node `index` and every other node (clients still reach it). */
  isolate(index: number): void;
  heal(): void;
  teardown(): void;
}

function run(command: string, args: string[]): void {
  execFileSync(command, args, { stdio: 'pipe' });
}

export function createNetnsLab(size: number): NetnsLab {
  const prefix = `rs${process.pid % 10000}`;
  const subnet = 64 + (process.pid % 100);
  const bridge = `${prefix}br`;
  const hosts = Array.from({ length: size }, (_, n) => `10.${subnet}.0.${n + 1}`);
  const namespaces = Array.from({ length: size }, (_, n) => `${prefix}ns${n + 1}`);
  const teardown = (): void => {
    for (const ns of namespaces) {
      try {
        run('ip', ['netns', 'del', ns]);
      } catch {
        // already gone
      }
    }
    try {
      run('ip', ['link', 'del', bridge]);
    } catch {
      // already gone
    }
  };
  teardown();
  run('ip', ['link', 'add', bridge, 'type', 'bridge']);
  run('ip', ['addr', 'add', `10.${subnet}.0.254/24`, 'dev', bridge]);
  run('ip', ['link', 'set', bridge, 'up']);
  namespaces.forEach((ns, index) => {
    const outer = `${prefix}v${index + 1}`;
    const inner = `${prefix}n${index + 1}`;
    run('ip', ['netns', 'add', ns]);
    run('ip', ['link', 'add', outer, 'type', 'veth', 'peer', 'name', inner]);
    run('ip', ['link', 'set', inner, 'netns', ns]);
    run('ip', ['link', 'set', outer, 'master', bridge]);
    run('ip', ['link', 'set', outer, 'up']);
    run('ip', ['netns', 'exec', ns, 'ip', 'addr', 'add', `${hosts[index]}/24`, 'dev', inner]);
    run('ip', ['netns', 'exec', ns, 'ip', 'link', 'set', inner, 'up']);
    run('ip', ['netns', 'exec', ns, 'ip', 'link', 'set', 'lo', 'up']);
  });
  return {
    hosts,
    namespaces,
    isolate(index) {
      const ns = namespaces[index];
      if (ns === undefined) throw new Error(`no node ${index}`);
      hosts.forEach((other, otherIndex) => {
        if (otherIndex === index) return;
        run('ip', ['netns', 'exec', ns, 'iptables', '-A', 'INPUT', '-s', other, '-j', 'DROP']);
        run('ip', ['netns', 'exec', ns, 'iptables', '-A', 'OUTPUT', '-d', other, '-j', 'DROP']);
      });
    },
    heal() {
      for (const ns of namespaces) run('ip', ['netns', 'exec', ns, 'iptables', '-F']);
    },
    teardown,
  };
}
