// Builds the AccessContext a kind runs in. Semaphores are process-wide on purpose: the
// Identity Center outstanding-operation limit is shared by every job of this process.
import { outsideAwsScope } from '../aws/clients.js';
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

/**
 * Facts every job of the process would otherwise read again (the Identity Center
 * instance, the organization): kept for `ttlMs` per AWS runtime (its client factory), so
 * 100 concurrent grants make one ListInstances call, not 100. A failure is not kept. The
 * read runs outside the asking job's scope: another job's cancel must not fail the rest.
 */
const shared = new WeakMap<object, Map<string, { at: number; value: Promise<unknown> }>>();
export function sharedFact<T>(ctx: AccessContext, key: string, ttlMs: number, read: () => Promise<T>): Promise<T> {
  let facts = shared.get(ctx.session.clients);
  if (!facts) shared.set(ctx.session.clients, (facts = new Map()));
  const hit = facts.get(key);
  if (hit && Date.now() - hit.at < ttlMs) return hit.value as Promise<T>;
  const value = outsideAwsScope(read);
  const kept = facts;
  kept.set(key, { at: Date.now(), value });
  value.catch(() => {
    if (kept.get(key)?.value === value) kept.delete(key);
  });
  return value;
}

export interface AccessContextOptions {
  session: IntegrationSession;
  integration: Integration;
  log: Logger;
  signal?: AbortSignal;
  now?: () => number;
  ssoMaxOutstandingAssignments?: number;
  /** Role names the connector itself uses (never edited by a grant), from its configuration. */
  connectorRoleNames?: readonly string[];
  allowExternalIdentityWrites?: boolean;
  allowOrganizationAccountAccessRole?: boolean;
  /** JIT_ROLES (default `tagged`). */
  jitRoles?: 'tagged' | 'any';
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
      allowOrganizationAccountAccessRole: o.allowOrganizationAccountAccessRole ?? false,
      jitRoles: o.jitRoles ?? 'tagged',
    },
    // Not unref'd: in a CLI command this wait may be the only thing keeping the process alive.
    sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
  };
}
