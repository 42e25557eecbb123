// What every service module provides, and what a handler receives.
import type { ServiceName } from './errors.js';
import type { Family } from './quotas.js';
import type { RequestContext, Session } from './auth.js';
import type { Account, World } from './world.js';
import type { SimRuntime } from './runtime.js';

export interface Ctx {
  sim: SimRuntime;
  world: World;
  session: Session;
  /** The account the call is made in (the caller's). */
  account: Account;
  region: string;
  service: ServiceName;
  op: string;
  input: Record<string, unknown>;
  requestId: string;
  now: number;
}

export type Handler = (ctx: Ctx) => Record<string, unknown>;

export interface ServiceDef {
  name: ServiceName;
  protocol: 'query' | 'ec2' | 'json1.0' | 'json1.1' | 'rest-json';
  /** IAM action prefix (`sso` for SSO Admin). */
  iamPrefix: string;
  /** The IAM action an operation needs, where it is not `<iamPrefix>:<op>`. */
  actionOf?(op: string): string;
  /** Global services answer in every region; regional ones refuse an opt-in region the account has not enabled. */
  global?: boolean;
  /** CloudTrail eventSource. */
  eventSource: string;
  ops: Record<string, Handler>;
  family(op: string): Family;
  /** Operations that change state: recorded in CloudTrail. */
  mutating: ReadonlySet<string>;
  /** Resource named in AccessDenied messages. */
  resource?(ctx: Ctx): string;
  /** The resources (with their tags) and condition keys of a request, for statement policies (auth.ts). */
  authContext?(ctx: Ctx): RequestContext;
}
