// Builds the AccessContext a kind runs in. Semaphores are process-wide on purpose: the
// Identity Center outstanding-operation limit is shared by every job of this process.
import type { IntegrationSession } from '../aws/session.js';
import type { Logger } from '../log.js';
import type { Integration } from '../protocol/messages.js';
import type { AccessContext } from './types.js';

class Semaphore {
  private active = 0;
  private readonly waiting: Array<() => void> = [];
  constructor(public max: number) {}

  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.active >= this.max) await new Promise<void>((resolve) => this.waiting.push(resolve));
    this.active++;
    try {
      return await fn();
    } finally {
      this.active--;
      this.waiting.shift()?.();
    }
  }
}

const semaphores = new Map<string, Semaphore>();

/** Runs `fn` holding one of `max` slots of the process-wide semaphore `name`. */
export function withSemaphore<T>(name: string, max: number, fn: () => Promise<T>): Promise<T> {
  let s = semaphores.get(name);
  if (!s) semaphores.set(name, (s = new Semaphore(max)));
  s.max = max;
  return s.run(fn);
}

export interface AccessContextOptions {
  session: IntegrationSession;
  integration: Integration;
  log: Logger;
  signal?: AbortSignal;
  now?: () => number;
  ssoMaxOutstandingAssignments?: number;
  /** Role names the connector itself uses (never edited by a grant). */
  connectorRoleNames?: readonly string[];
  allowExternalIdentityWrites?: boolean;
}

export function makeAccessContext(o: AccessContextOptions): AccessContext {
  const signal = o.signal ?? new AbortController().signal;
  const roleNames = new Set<string>(o.connectorRoleNames ?? []);
  roleNames.add(o.integration.memberRoleName);
  const mgmtRole = o.integration.roleArn?.split('/').pop();
  if (mgmtRole) roleNames.add(mgmtRole);
  return {
    session: o.session,
    integration: o.integration,
    log: o.log,
    signal,
    now: o.now ?? Date.now,
    limit: withSemaphore,
    settings: {
      ssoMaxOutstandingAssignments: o.ssoMaxOutstandingAssignments ?? 10,
      connectorRoleNames: [...roleNames],
      allowExternalIdentityWrites: o.allowExternalIdentityWrites ?? false,
    },
    // Not unref'd: in a CLI command this wait may be the only thing keeping the process alive.
    sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
  };
}
