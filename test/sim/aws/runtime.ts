// The request pipeline shared by every service: identify the service and operation from the
// wire, map the access key to a session, apply faults, quotas, latency and permissions, run
// the handler, encode the answer in the service's protocol, count it, and record mutating
// calls in CloudTrail.
import type { IncomingHttpHeaders } from 'node:http';
import { SimError, commonError, serverError, type ServiceName } from './errors.js';
import { decodeForm, encodeQueryError, encodeQueryResult } from './codecs/query.js';
import { decodeJson, encodeJson, encodeJsonError } from './codecs/json.js';
import { Sessions, checkAction, deniedMessage, type Session } from './auth.js';
import { Quotas, type Family } from './quotas.js';
import { Faults } from './faults.js';
import { Stats } from './stats.js';
import type { Ctx, ServiceDef } from './service.js';
import { globalRegion, regionEnabled, type World } from './world.js';
import { sleep, uuid } from './util.js';
import { stsService } from './services/sts.js';
import { iamService } from './services/iam.js';
import { organizationsService } from './services/organizations.js';
import { ssoAdminService } from './services/sso-admin.js';
import { identityStoreService } from './services/identitystore.js';
import { ssmService } from './services/ssm.js';
import { ec2Service, encodeEc2Error, encodeEc2Result } from './services/ec2.js';
import { cloudTrailService } from './services/cloudtrail.js';
import { dynamoDbService } from './services/dynamodb.js';
import { resourceExplorerService } from './services/resource-explorer.js';
import { accountService, ACCOUNT_PATHS } from './services/account.js';
import { logSignIns } from './sign-ins.js';

export interface RuntimeOptions {
  /** Latency added to every call, in ms before time scaling (default 0). */
  latencyMs?: number;
  /** k: multiplies every quota, divides every latency and asynchronous delay (default 1). */
  timeScale?: number;
  /** Throttle with AWS's rates (default true). */
  quotas?: boolean;
  quotaRates?: Partial<Record<Family, number>>;
  sso?: {
    /** Time an assignment create/delete stays IN_PROGRESS (default 2000 ms, scaled). */
    assignmentDelayMs?: number;
    /** Outstanding assignment operations allowed per instance (default 10). */
    maxOutstanding?: number;
    /** Error answered beyond that limit (default ConflictException). */
    outstandingError?: 'ConflictException' | 'ThrottlingException';
  };
  ssm?: {
    /** Time a command takes to reach Success (default 1000 ms, scaled). */
    commandDelayMs?: number;
    /**
     * Runs the connector's own AccessConnector-LocalUser document for real on a Linux instance
     * (test/helpers/linux-host.ts) instead of the model, when it returns an outcome: the script's
     * exit code, stdout and stderr. Returning undefined leaves that instance to the model.
     */
    localUserOn?: (instanceId: string, params: Record<string, string[]>) => { code: number; stdout: string; stderr: string } | undefined;
  };
}

export interface WireRequest { method: string; path: string; headers: IncomingHttpHeaders; body: string }
export interface WireResponse { status: number; headers: Record<string, string>; body: string }

const QUERY_NS: Record<string, string> = {
  sts: 'https://sts.amazonaws.com/doc/2011-06-15/',
  iam: 'https://iam.amazonaws.com/doc/2010-05-08/',
};

export class SimRuntime {
  readonly sessions: Sessions;
  readonly quotas: Quotas;
  readonly faults: Faults;
  readonly stats = new Stats();
  readonly services: ServiceDef[];
  private readonly byTarget = new Map<string, ServiceDef>();
  private clockOffsetMs = 0;
  /** SSO assignment failures to inject: next N operations fail with this reason. */
  readonly ssoFailures: { count: number; reason: string; afterMs?: number }[] = [];
  /** SSM command failures to inject: next N SendCommand calls end Failed with this stderr. */
  readonly ssmFailures: { count: number; output: string }[] = [];
  /** Every allowed `role|action` pair, for the least-privilege test (what was really used, by whom). */
  readonly actionsUsed = new Set<string>();
  /** Every refused `role|action` pair (permission evaluation only, not injected faults). */
  readonly actionsDenied = new Set<string>();

  constructor(readonly world: World, readonly options: RuntimeOptions = {}) {
    this.sessions = new Sessions(world, this.now());
    logSignIns(world, this.now());
    this.quotas = new Quotas({ enabled: options.quotas ?? true, timeScale: options.timeScale ?? 1, rates: options.quotaRates ?? {} });
    this.faults = new Faults({
      now: () => this.now(),
      expireSessions: (at, inc) => this.sessions.expireAll(at, inc),
      setSessionLifetimeCap: (ms) => { this.sessions.lifetimeCapMs = ms; },
    }, options.latencyMs ?? 0);
    this.services = [stsService, iamService, organizationsService, ssoAdminService, identityStoreService,
      ssmService, cloudTrailService, dynamoDbService, resourceExplorerService, accountService, ec2Service];
    const targets: Record<string, ServiceDef> = {
      AWSOrganizationsV20161128: organizationsService, SWBExternalService: ssoAdminService,
      AWSIdentityStore: identityStoreService, AmazonSSM: ssmService, CloudTrail_20131101: cloudTrailService,
      DynamoDB_20120810: dynamoDbService,
    };
    for (const [k, v] of Object.entries(targets)) this.byTarget.set(k, v);
  }

  get timeScale(): number { return this.quotas.timeScale; }
  private lastNow = 0;
  /** Simulated time: never goes back, even when the host's wall clock is stepped back. */
  now(): number {
    this.lastNow = Math.max(this.lastNow, Date.now() + this.clockOffsetMs);
    return this.lastNow;
  }
  advanceClock(ms: number): void { this.clockOffsetMs += ms; }
  /** A configured delay in simulated ms, divided by the time scale. */
  scaled(ms: number): number { return ms / this.timeScale; }

  async handle(req: WireRequest): Promise<WireResponse> {
    const requestId = uuid();
    let svc: ServiceDef | undefined;
    let op = '';
    let input: Record<string, unknown> = {};
    const target = req.headers['x-amz-target'];
    const auth = parseAuthorization(req.headers.authorization);
    this.stats.userAgent(typeof req.headers['user-agent'] === 'string' ? req.headers['user-agent'] : undefined);
    try {
      if (typeof target === 'string') {
        const [prefix, name] = target.split('.');
        svc = this.byTarget.get(prefix ?? '');
        op = name ?? '';
        input = decodeJson(req.body);
      } else if (String(req.headers['content-type'] ?? '').startsWith('application/x-www-form-urlencoded')) {
        input = decodeForm(req.body);
        op = String(input.Action ?? '');
        svc = auth?.service === 'ec2' || input.Version === '2016-11-15' ? ec2Service : auth?.service === 'sts' || input.Version === '2011-06-15' ? stsService : iamService;
      } else if (auth?.service === 'account' || ACCOUNT_PATHS.has(req.path.split('?')[0]!)) {
        svc = accountService;
        op = ACCOUNT_PATHS.get(req.path.split('?')[0]!) ?? '';
        input = decodeJson(req.body);
      } else if (auth?.service === 'resource-explorer-2' || /^\/[A-Z]/.test(req.path)) {
        svc = resourceExplorerService;
        op = req.path.split('?')[0]!.replace(/^\//, '').replace(/\/$/, '');
        input = decodeJson(req.body);
      }
    } catch {
      svc ??= resourceExplorerService;
      return this.encodeError(svc, op, new SimError('SerializationException', 'Malformed request body', 400), requestId);
    }
    if (!svc) {
      return { status: 404, headers: { 'content-type': 'application/json' }, body: encodeJsonError(new SimError('UnknownOperationException', `Unknown service for ${req.method} ${req.path}`, 404)) };
    }
    this.stats.enter();
    let accountForStats = '-';
    try {
      const res = await this.pipeline(svc, op, input, auth, req, requestId, (a) => { accountForStats = a; });
      this.stats.record(svc.name, op, accountForStats, 'ok');
      return res;
    } catch (e) {
      const err = e instanceof SimError ? e : new SimError('InternalFailure', String((e as Error)?.stack ?? e), 500);
      const throttled = err.code === commonError(svc.name, 'throttling').code;
      this.stats.record(svc.name, op, accountForStats, throttled ? 'throttled' : 'error');
      return this.encodeError(svc, op, err, requestId);
    } finally {
      this.stats.leave();
    }
  }

  private async pipeline(svc: ServiceDef, op: string, input: Record<string, unknown>,
    auth: { accessKeyId: string; region: string; service: string } | undefined, req: WireRequest, requestId: string,
    setAccount: (a: string) => void): Promise<WireResponse> {
    const handler = Object.hasOwn(svc.ops, op) ? svc.ops[op] : undefined;
    if (!auth) throw commonError(svc.name, 'missingAuth');
    const session = this.sessions.get(auth.accessKeyId);
    if (!session) throw commonError(svc.name, 'invalidToken');
    setAccount(session.accountId);
    if (!session.base && session.sessionToken !== req.headers['x-amz-security-token']) throw commonError(svc.name, 'invalidToken');
    if (session.expiresAt !== undefined && this.now() >= session.expiresAt) throw commonError(svc.name, 'expiredToken');
    if (!handler) {
      throw svc.protocol === 'query' || svc.protocol === 'ec2'
        ? new SimError('InvalidAction', `Could not find operation ${op} for version ${String(input.Version ?? '')}`, 400)
        : new SimError('UnknownOperationException', `Unknown operation ${op}`, 400);
    }
    const account = this.world.accounts.get(session.accountId);
    if (!account) throw commonError(svc.name, 'invalidToken');
    const region = auth.region;
    // AWS answers a call in an opt-in region the account has not enabled as if it did not
    // know the credentials (UnrecognizedClientException / InvalidClientTokenId).
    if (!svc.global && !regionEnabled(this.world, account, region)) throw commonError(svc.name, 'invalidToken');
    // Credentials of an account that left ACTIVE (suspended, closing, closed) stop being
    // accepted, sessions issued before included: AWS answers as for unknown credentials.
    if (account.state !== 'ACTIVE') throw commonError(svc.name, 'invalidToken');

    await this.faults.passGate(svc.name, op, account.id, req.body);
    const hold = this.faults.holdMs(svc.name, op, account.id);
    if (hold > 0) await sleep(hold);
    const fiveXX = this.faults.serverError(svc.name, op, account.id);
    if (fiveXX) throw serverError(fiveXX);
    if (this.faults.shouldThrottle(svc.name, op, account.id)) throw commonError(svc.name, 'throttling');
    if (!this.quotas.take(svc.family(op), account.id, region, this.now())) throw commonError(svc.name, 'throttling');
    const latency = this.scaled(this.faults.latencyFor(svc.name));
    if (latency > 0) await sleep(latency);

    const ctx: Ctx = { sim: this, world: this.world, session, account, region, service: svc.name, op, input, requestId, now: this.now() };
    const action = svc.actionOf?.(op) ?? `${svc.iamPrefix}:${op}`;
    if (this.faults.deniedAccounts.has(account.id) && op !== 'GetCallerIdentity') {
      throw commonError(svc.name, 'accessDenied', deniedMessage(session, action, svc.resource?.(ctx) ?? '*', { allowed: false, explicitDeny: true }));
    }
    const decision = checkAction(this.world, session, action, svc.authContext?.(ctx));
    if (!decision.allowed) {
      this.actionsDenied.add(`${session.roleName}|${action}`);
      const msg = svc.name === 'organizations' ? "You don't have permissions to access this resource." : deniedMessage(session, action, svc.resource?.(ctx) ?? '*', decision);
      throw commonError(svc.name, 'accessDenied', msg);
    }
    this.actionsUsed.add(`${session.roleName}|${action}`);
    const out = svc.ops[op]!(ctx);
    if (svc.mutating.has(op)) this.recordEvent(svc, ctx);
    if (this.faults.loseResponse(svc.name, op, account.id)) throw serverError('InternalFailure');
    return this.encodeOk(svc, op, out, requestId);
  }

  private recordEvent(svc: ServiceDef, ctx: Ctx): void {
    const resourceName = String(ctx.input.RoleName ?? ctx.input.UserName ?? ctx.input.GroupName ?? ctx.input.TableName ??
      ctx.input.PermissionSetArn ?? ctx.input.GroupId ?? ctx.input.RoleArn ?? ctx.input.DocumentName ?? ctx.input.SessionId ?? ctx.input.Name ?? '');
    const global = svc.name === 'iam' || svc.name === 'organizations';
    // Organizations logs in the management account's trail, whoever calls: a delegated
    // administrator's own trail stays quiet while the organization changes (src/sync/delta.ts).
    const org = this.world.organization;
    const trail = svc.name === 'organizations' && org ? this.world.accounts.get(org.managementAccountId)!.trail : ctx.account.trail;
    trail.push({
      EventId: uuid(), EventName: ctx.op, EventSource: svc.eventSource, EventTime: ctx.now,
      Username: ctx.session.sessionName, AccessKeyId: ctx.session.accessKeyId, ReadOnly: 'false',
      Resources: resourceName ? [{ ResourceName: resourceName }] : [],
      region: global ? globalRegion(this.world) : ctx.region,
      detail: { userIdentity: { type: 'AssumedRole', arn: ctx.session.arn, accountId: ctx.session.accountId }, requestParameters: ctx.input },
    });
  }

  private encodeOk(svc: ServiceDef, op: string, out: Record<string, unknown>, requestId: string): WireResponse {
    const h = { 'x-amzn-requestid': requestId };
    switch (svc.protocol) {
      case 'query':
        return { status: 200, headers: { ...h, 'content-type': 'text/xml' }, body: encodeQueryResult(op, QUERY_NS[svc.name]!, out, requestId) };
      case 'ec2':
        return { status: 200, headers: { ...h, 'content-type': 'text/xml;charset=UTF-8' }, body: encodeEc2Result(op, out, requestId) };
      case 'rest-json':
        return { status: 200, headers: { ...h, 'content-type': 'application/json' }, body: encodeJson(out, 'iso') };
      default:
        return { status: 200, headers: { ...h, 'content-type': `application/x-amz-json-${svc.protocol === 'json1.0' ? '1.0' : '1.1'}` }, body: encodeJson(out, 'epoch') };
    }
  }

  private encodeError(svc: ServiceDef, _op: string, err: SimError, requestId: string): WireResponse {
    const h = { 'x-amzn-requestid': requestId };
    if (svc.protocol === 'query') {
      return { status: err.status, headers: { ...h, 'content-type': 'text/xml' }, body: encodeQueryError(err, requestId, QUERY_NS[svc.name]!) };
    }
    if (svc.protocol === 'ec2') return { status: err.status, headers: { ...h, 'content-type': 'text/xml;charset=UTF-8' }, body: encodeEc2Error(err, requestId) };
    if (svc.protocol === 'rest-json') {
      return { status: err.status, headers: { ...h, 'content-type': 'application/json', 'x-amzn-errortype': err.code }, body: encodeJsonError(err) };
    }
    return { status: err.status, headers: { ...h, 'content-type': `application/x-amz-json-${svc.protocol === 'json1.0' ? '1.0' : '1.1'}` }, body: encodeJsonError(err) };
  }
}

/** `AWS4-HMAC-SHA256 Credential=AKID/20240101/us-east-1/iam/aws4_request, …` */
export function parseAuthorization(h: string | undefined): { accessKeyId: string; region: string; service: string } | undefined {
  const m = /Credential=([^/]+)\/\d{8}\/([^/]+)\/([^/]+)\/aws4_request/.exec(h ?? '');
  return m ? { accessKeyId: m[1]!, region: m[2]!, service: m[3]! } : undefined;
}

export type { Session, ServiceName };
