// Systems Manager (awsJson1_1), per account and region: managed instances, Command documents,
// SendCommand (validated against the document's parameters), Session Manager sessions. The
// connector's own AccessConnector-LocalUser document is run against a model of each
// instance's OS users; other documents only record what they were asked to do.
import { parse as parseYaml } from 'yaml';
import { SimError, validation } from '../errors.js';
import type { Ctx, ServiceDef } from '../service.js';
import type { ManagedInstance, OsUser, SsmCommand, SsmDocument, SsmRegionState } from '../world.js';
import { ssmRegion } from '../world.js';
import { num, paginate, sha256, str, uuid } from '../util.js';

/** Documents AWS owns, present in every region. */
const AWS_DOCS: SsmDocument[] = [{
  name: 'AWS-RunShellScript', type: 'Command', format: 'JSON', owner: 'Amazon', created: Date.UTC(2017, 0, 1),
  content: JSON.stringify({ schemaVersion: '2.2', description: 'Run a shell script.', parameters: { commands: { type: 'StringList' } }, mainSteps: [{ action: 'aws:runShellScript', name: 'runShellScript', inputs: { runCommand: '{{ commands }}' } }] }),
  params: { commands: { type: 'StringList' } },
}];

const region = (ctx: Ctx): SsmRegionState => ssmRegion(ctx.account, ctx.region);

function doc(ctx: Ctx, nameOrArn: string | undefined): SsmDocument {
  const name = (nameOrArn ?? '').replace(/^arn:[^:]+:ssm:[^:]*:[^:]*:document\//, '');
  const d = region(ctx).documents.get(name) ?? AWS_DOCS.find((x) => x.name === name);
  if (!d) throw new SimError('InvalidDocument', `Document with name ${name} does not exist.`, 400);
  return d;
}

export function parseDocument(content: string, format: 'JSON' | 'YAML'): { params: SsmDocument['params']; description?: string } {
  let v: { parameters?: SsmDocument['params']; description?: string; schemaVersion?: string };
  try { v = (format === 'YAML' ? parseYaml(content) : JSON.parse(content)) as typeof v; } catch (e) {
    throw new SimError('InvalidDocumentContent', `The content for the document is not valid: ${(e as Error).message}`, 400);
  }
  if (!v || typeof v !== 'object' || !v.schemaVersion) throw new SimError('InvalidDocumentContent', 'The content for the document is not valid: schemaVersion is required', 400);
  return { params: v.parameters ?? {}, ...(v.description ? { description: v.description } : {}) };
}

function docDescription(ctx: Ctx, d: SsmDocument): Record<string, unknown> {
  return {
    Hash: sha256(d.content), HashType: 'Sha256', Name: d.name, Owner: d.owner === 'Amazon' ? 'Amazon' : ctx.account.id,
    CreatedDate: new Date(d.created), Status: 'Active', DocumentVersion: '1', LatestVersion: '1', DefaultVersion: '1',
    DocumentType: d.type, DocumentFormat: d.format, SchemaVersion: '2.2', PlatformTypes: ['Linux', 'MacOS'],
    Parameters: Object.entries(d.params).map(([Name, p]) => ({ Name, Type: p.type, Description: p.description, ...(p.default !== undefined ? { DefaultValue: String(p.default) } : {}) })),
  };
}

/** Check SendCommand parameters against the document, as SSM does before running anything. */
function validateParameters(d: SsmDocument, params: Record<string, string[]>): void {
  for (const [name, values] of Object.entries(params)) {
    const p = d.params[name];
    if (!p) throw new SimError('InvalidParameters', `Parameter "${name}" is not defined in the document ${d.name}.`, 400);
    for (const v of values) {
      if (p.allowedPattern && !new RegExp(p.allowedPattern).test(v)) {
        throw new SimError('InvalidParameters', `Parameter "${name}" "${v}" failed to satisfy constraint: pattern ${p.allowedPattern}`, 400);
      }
      if (p.allowedValues && !p.allowedValues.includes(v)) {
        throw new SimError('InvalidParameters', `Parameter "${name}" "${v}" failed to satisfy constraint: allowed values ${p.allowedValues.join(', ')}`, 400);
      }
    }
  }
  for (const [name, p] of Object.entries(d.params)) {
    if (!(name in params) && p.default === undefined) throw new SimError('InvalidParameters', `Parameter "${name}" is required.`, 400);
  }
}

/** Record OS-user effects when the parameters name a user and an action (kept generic on purpose). */
function recordOsUser(inst: ManagedInstance, params: Record<string, string[]>, at: number): void {
  const key = (re: RegExp) => Object.keys(params).find((k) => re.test(k));
  const userKey = key(/^(user(_?name)?|login)$/i);
  const actionKey = key(/^(action|operation|op|command)$/i);
  const user = userKey ? params[userKey]?.[0] : undefined;
  const action = actionKey ? params[actionKey]?.[0] : undefined;
  if (user && action) inst.osUsers[user] = { state: action, parameters: params, at };
}

/** The connector's own Command document, modelled action by action below. */
export const LOCAL_USER_DOCUMENT = 'AccessConnector-LocalUser';

type Outcome = NonNullable<SsmCommand['results']>[string];

/**
 * What src/access/documents/local-user.json does on a Linux instance, as the OS would see
 * it: same checks, same refusals (exit 3, stderr), same result line. An emulator must not
 * share code with what it checks, so this is written from the script, not imported.
 */
export function runLocalUser(inst: ManagedInstance, params: Record<string, string[]>, at: number): Outcome {
  const p = (k: string) => params[k]?.[0] ?? '';
  const action = p('action');
  const name = p('userName');
  const owner = p('owner');
  const tag = p('accessTag');
  const key = p('sshPublicKey');
  const fail = (code: number, msg: string): Outcome => ({ status: 'Failed', code, stdout: '', stderr: `access-connector: ${msg}\n` });
  // aws:runShellScript with precondition platformType Linux: skipped elsewhere, and SSM calls that Success.
  if (inst.platform !== 'Linux') return { status: 'Success', code: 0, stdout: '', stderr: '' };
  const line = key && tag ? `${key} access-connector:${tag}` : '';
  let created = false;
  let u: OsUser | undefined = inst.osUsers[name];
  const managed = () => !!u && !!u.marker && u.marker.uid === u.uid;
  const ownerOk = () => managed() && u!.marker!.owner === owner;
  // The root-only record of the keys installed per grant: the only thing revoke and delete count.
  const granted = () => Object.keys(u?.granted ?? {}).length;
  // authorized_keys is written whole from the record: what the user added there is gone.
  const install = () => { u!.authorizedKeys = Object.entries(u!.granted ?? {}).map(([t, k]) => `${k} access-connector:${t}`); };
  const result = (extra = ''): Outcome => ({
    status: 'Success', code: 0, stderr: '',
    stdout: `access-connector-result: action=${action} user=${u ? 'present' : 'absent'} managed=${managed() ? 'yes' : 'no'} owner=${managed() ? (ownerOk() ? 'match' : 'other') : 'none'} ` +
      `key=${u && line && u.granted?.[tag] === key && u.authorizedKeys?.includes(line) ? 'yes' : 'no'} locked=${u?.locked ? 'yes' : 'no'} keys=${granted()} created=${created ? 'yes' : 'no'}${extra}\n`,
  });
  const notMine = (): Outcome | undefined => {
    if (!managed()) return fail(3, `OS user ${name} exists but was not created by access-connector; it is left untouched`);
    if (!ownerOk()) return fail(3, `OS user ${name} was created by access-connector for another person; it is left untouched`);
    return undefined;
  };
  const lock = () => { u!.locked = true; u!.processes = 0; };
  const touch = () => { u!.state = action; u!.parameters = params; u!.at = at; };
  switch (action) {
    case 'grant': {
      if (!key || !tag) return fail(2, 'grant needs sshPublicKey and accessTag');
      if (!u) {
        const uid = Math.max(1000, ...Object.values(inst.osUsers).map((x) => x.uid ?? 0)) + 1;
        u = inst.osUsers[name] = { state: action, parameters: params, at, uid, gecos: 'access-connector', shell: '/bin/bash', marker: { owner, uid }, granted: {}, locked: true, authorizedKeys: [], processes: 0 };
        created = true;
      }
      const refused = notMine();
      if (refused) return refused;
      const rest = { ...u.granted };
      delete rest[tag];
      u.granted = { ...rest, [tag]: key };
      install();
      u.locked = false;
      touch();
      return result();
    }
    case 'revoke': {
      if (!tag) return fail(2, 'revoke needs accessTag');
      if (u) {
        const refused = notMine();
        if (refused) return refused;
        delete u.granted?.[tag];
        if (granted() === 0) { lock(); u.authorizedKeys = []; } else install();
        touch();
      }
      return result();
    }
    case 'delete': {
      if (!u) return result();
      const refused = notMine();
      if (refused) return refused;
      if (granted() > 0) return result(' kept=in-use');
      lock();
      delete inst.osUsers[name];
      u = undefined;
      return result();
    }
    default:
      return result();
  }
}

/** Status and output of one instance's invocation of a command. */
function invocation(ctx: Ctx, c: SsmCommand, iid: string): Outcome {
  const r = c.results?.[iid];
  if (ctx.now < c.completesAt) return { status: 'InProgress', code: -1, stdout: '', stderr: '' };
  if (r) return r;
  return c.failed !== undefined ? { status: 'Failed', code: 1, stdout: '', stderr: c.failed } : { status: 'Success', code: 0, stdout: 'ok', stderr: '' };
}

function page<T>(ctx: Ctx, items: T[], scope: string, cap: number, min = 1) {
  return paginate(items, {
    max: num(ctx.input.MaxResults), token: str(ctx.input.NextToken), cap, min, scope: `${ctx.account.id}|${ctx.region}|${ctx.op}|${scope}`,
    invalidToken: () => new SimError('InvalidNextToken', 'The specified token is not valid.', 400),
    tooLarge: (n) => validation('ssm', `1 validation error detected: Value '${n}' at 'maxResults' failed to satisfy constraint: Member must have value ${n < min ? `greater than or equal to ${min}` : `less than or equal to ${cap}`}`),
  });
}

export const ssmService: ServiceDef = {
  name: 'ssm',
  protocol: 'json1.1',
  iamPrefix: 'ssm',
  eventSource: 'ssm.amazonaws.com',
  family: () => 'ssm',
  mutating: new Set(['SendCommand', 'TerminateSession', 'CreateDocument']),
  resource: (ctx) => str(ctx.input.DocumentName) ? `arn:${ctx.world.partition}:ssm:${ctx.region}:${ctx.account.id}:document/${str(ctx.input.DocumentName)}` : '*',
  ops: {
    DescribeInstanceInformation: (ctx) => {
      const r = region(ctx);
      let all = [...r.instances.values()].sort((x, y) => (x.id < y.id ? -1 : 1));
      const filters: { Key: string; Values: string[] }[] = [
        ...((ctx.input.Filters as { Key: string; Values: string[] }[] | undefined) ?? []),
        ...((ctx.input.InstanceInformationFilterList as { key: string; valueSet: string[] }[] | undefined) ?? []).map((f) => ({ Key: f.key, Values: f.valueSet })),
      ];
      for (const f of filters) {
        if (f.Key === 'InstanceIds') all = all.filter((i) => f.Values.includes(i.id));
        else if (f.Key === 'PingStatus') all = all.filter((i) => f.Values.includes(i.ping));
        else if (f.Key === 'PlatformTypes') all = all.filter((i) => f.Values.includes(i.platform));
        else if (f.Key.startsWith('tag:')) all = all.filter((i) => i.tags?.some((t) => t.Key === f.Key.slice(4) && f.Values.includes(t.Value)));
      }
      const p = page(ctx, all, JSON.stringify(filters), 50, 5);
      // Hybrid (on-premises) nodes have `mi-` ids and are ManagedInstance; EC2 ones EC2Instance.
      return { InstanceInformationList: p.items.map((i) => ({
        InstanceId: i.id, PingStatus: i.ping, LastPingDateTime: new Date(ctx.now - 60_000), AgentVersion: '3.3.0.0', IsLatestVersion: true,
        PlatformType: i.platform, PlatformName: i.platformName, PlatformVersion: i.platformVersion, ResourceType: i.id.startsWith('mi-') ? 'ManagedInstance' : 'EC2Instance',
        IamRole: i.iamRole, RegistrationDate: new Date(i.registered), IPAddress: i.ip, ComputerName: i.computerName, Name: i.name,
        SourceId: i.id, SourceType: i.id.startsWith('mi-') ? 'AWS::SSM::ManagedInstance' : 'AWS::EC2::Instance', AssociationStatus: 'Success',
      })), NextToken: p.next };
    },
    // Only the ManagedInstance type is modelled: tags of hybrid (`mi-`) nodes. An EC2
    // instance's tags live in EC2, and SSM refuses its id here, as AWS does.
    ListTagsForResource: (ctx) => {
      const type = str(ctx.input.ResourceType);
      const id = str(ctx.input.ResourceId) ?? '';
      if (type !== 'ManagedInstance') throw validation('ssm', `ResourceType ${type ?? ''} is not supported by the simulator`);
      const inst = id.startsWith('mi-') ? region(ctx).instances.get(id) : undefined;
      if (!inst) throw new SimError('InvalidResourceId', 'The resource ID is not valid. Verify that you entered the correct ID and try again.', 400);
      return { TagList: inst.tags ?? [] };
    },
    SendCommand: (ctx) => {
      const r = region(ctx);
      const ids = (ctx.input.InstanceIds as string[] | undefined) ?? [];
      if (ids.length === 0 || ids.length > 50) throw validation('ssm', `1 validation error detected: Value at 'instanceIds' failed to satisfy constraint: Member must have length between 1 and 50`);
      const d = doc(ctx, str(ctx.input.DocumentName));
      if (d.type !== 'Command') throw new SimError('InvalidDocument', `Document ${d.name} is not a Command document.`, 400);
      const params = (ctx.input.Parameters as Record<string, string[]> | undefined) ?? {};
      const bad = ids.filter((id) => r.instances.get(id)?.ping !== 'Online');
      if (bad.length) throw new SimError('InvalidInstanceId', `Instances [[${bad.join(', ')}]] not in a valid state for account ${ctx.account.id}`, 400);
      validateParameters(d, params);
      const commandId = uuid();
      const fail = ctx.sim.ssmFailures[0];
      if (fail && --fail.count <= 0) ctx.sim.ssmFailures.shift();
      const completesAt = ctx.now + ctx.sim.scaled(ctx.sim.options.ssm?.commandDelayMs ?? 1000);
      const results: NonNullable<SsmCommand['results']> = {};
      for (const id of ids) {
        const inst = r.instances.get(id)!;
        inst.commands.push({ commandId, document: d.name, parameters: params, at: ctx.now });
        if (inst.hangNext) {
          results[id] = { status: 'InProgress', code: -1, stdout: '', stderr: '' };
          if (--inst.hangNext <= 0) delete inst.hangNext;
          continue;
        }
        // A failure injected for one instance: the script failed there and changed nothing.
        if (inst.failNext) {
          results[id] = { status: 'Failed', code: 1, stdout: '', stderr: inst.failNext.output };
          if (--inst.failNext.count <= 0) delete inst.failNext;
          continue;
        }
        if (fail) continue;
        if (d.name === LOCAL_USER_DOCUMENT) {
          const real = inst.platform === 'Linux' ? ctx.sim.options.ssm?.localUserOn?.(id, params) : undefined;
          results[id] = real ? { status: real.code === 0 ? 'Success' : 'Failed', ...real } : runLocalUser(inst, params, ctx.now);
        }
        else recordOsUser(inst, params, ctx.now);
      }
      r.commands.set(commandId, {
        commandId, document: d.name, parameters: params, instanceIds: ids, requested: ctx.now, completesAt, comment: str(ctx.input.Comment), requestedBy: ctx.session.arn,
        ...(fail ? { failed: fail.output } : {}), ...(Object.keys(results).length ? { results } : {}),
      });
      return { Command: {
        CommandId: commandId, DocumentName: d.name, DocumentVersion: '1', Comment: str(ctx.input.Comment), Parameters: params,
        InstanceIds: ids, Targets: [], RequestedDateTime: new Date(ctx.now), Status: 'Pending', StatusDetails: 'Pending',
        TargetCount: ids.length, CompletedCount: 0, ErrorCount: 0, DeliveryTimedOutCount: 0, MaxConcurrency: '50', MaxErrors: '0',
        ExpiresAfter: new Date(ctx.now + 3600_000),
      } };
    },
    GetCommandInvocation: (ctx) => {
      const c = region(ctx).commands.get(str(ctx.input.CommandId) ?? '');
      const iid = str(ctx.input.InstanceId) ?? '';
      const missing = () => new SimError('InvocationDoesNotExist', 'An error occurred (InvocationDoesNotExist) when calling the GetCommandInvocation operation', 400);
      if (!c || !c.instanceIds.includes(iid)) throw missing();
      // SSM creates invocations a moment after SendCommand returns. Modelled for the
      // connector's own document (the first 3/4 of the command's delay), whose client must
      // wait it out; older tests of generic documents read their invocations at once.
      if (c.document === LOCAL_USER_DOCUMENT && ctx.now < c.requested + (c.completesAt - c.requested) * 0.75) throw missing();
      const inv = invocation(ctx, c, iid);
      const done = inv.status !== 'InProgress';
      return {
        CommandId: c.commandId, InstanceId: iid, Comment: c.comment, DocumentName: c.document, DocumentVersion: '1', PluginName: 'aws:runShellScript',
        ResponseCode: inv.code, ExecutionStartDateTime: new Date(c.requested).toISOString(),
        ...(done ? { ExecutionEndDateTime: new Date(c.completesAt).toISOString(), ExecutionElapsedTime: 'PT0S' } : {}),
        // AWS keeps at most 24,000 characters of stdout and 8,000 of stderr here.
        Status: inv.status, StatusDetails: inv.status, StandardOutputContent: inv.stdout.slice(0, 24_000), StandardErrorContent: inv.stderr.slice(0, 8_000),
      };
    },
    ListCommandInvocations: (ctx) => {
      const r = region(ctx);
      const cid = str(ctx.input.CommandId);
      const iid = str(ctx.input.InstanceId);
      const rows: { c: SsmCommand; i: string }[] = [];
      for (const c of [...r.commands.values()].sort((x, y) => y.requested - x.requested)) {
        if (cid && c.commandId !== cid) continue;
        for (const i of c.instanceIds) if (!iid || i === iid) rows.push({ c, i });
      }
      const p = page(ctx, rows, `${cid}|${iid}`, 50);
      return { CommandInvocations: p.items.map(({ c, i }) => {
        const st = invocation(ctx, c, i).status;
        return { CommandId: c.commandId, InstanceId: i, DocumentName: c.document, DocumentVersion: '1', Comment: c.comment, RequestedDateTime: new Date(c.requested), Status: st, StatusDetails: st };
      }), NextToken: p.next };
    },
    DescribeSessions: (ctx) => {
      const r = region(ctx);
      const state = str(ctx.input.State);
      if (state !== 'Active' && state !== 'History') throw validation('ssm', "1 validation error detected: Value at 'state' failed to satisfy constraint: Member must satisfy enum value set: [Active, History]");
      let all = [...r.sessions.values()].filter((s) => (state === 'Active' ? s.status === 'Connected' : s.status !== 'Connected'));
      for (const f of (ctx.input.Filters as { key: string; value: string }[] | undefined) ?? []) {
        if (f.key === 'Target') all = all.filter((s) => s.target === f.value);
        if (f.key === 'Owner') all = all.filter((s) => s.owner === f.value);
        if (f.key === 'SessionId') all = all.filter((s) => s.id === f.value);
        if (f.key === 'Status') all = all.filter((s) => s.status === f.value);
      }
      all.sort((x, y) => x.started - y.started);
      const p = page(ctx, all, `${state}|${JSON.stringify(ctx.input.Filters ?? '')}`, 200);
      return { Sessions: p.items.map((s) => ({ SessionId: s.id, Target: s.target, Status: s.status, StartDate: new Date(s.started), ...(s.ended ? { EndDate: new Date(s.ended) } : {}), Owner: s.owner, DocumentName: 'SSM-SessionManagerRunShell' })), NextToken: p.next };
    },
    TerminateSession: (ctx) => {
      const s = region(ctx).sessions.get(str(ctx.input.SessionId) ?? '');
      if (!s) throw new SimError('DoesNotExistException', `Session ${str(ctx.input.SessionId)} does not exist`, 400);
      if (s.status === 'Connected') { s.status = 'Terminated'; s.ended = ctx.now; }
      return { SessionId: s.id };
    },
    CreateDocument: (ctx) => {
      const r = region(ctx);
      const name = str(ctx.input.Name) ?? '';
      if (!/^[a-zA-Z0-9_.-]{3,128}$/.test(name)) throw validation('ssm', `1 validation error detected: Value '${name}' at 'name' failed to satisfy constraint: Member must satisfy regular expression pattern: ^[a-zA-Z0-9_\\-.]{3,128}$`);
      if (/^(aws|amazon|amzn)/i.test(name)) throw validation('ssm', `Document name ${name} uses a reserved prefix.`);
      if (r.documents.has(name)) throw new SimError('DocumentAlreadyExists', 'Document with same name already exists', 400);
      const format = (str(ctx.input.DocumentFormat) ?? 'JSON') as 'JSON' | 'YAML';
      const content = str(ctx.input.Content) ?? '';
      const parsed = parseDocument(content, format);
      const d: SsmDocument = { name, type: str(ctx.input.DocumentType) ?? 'Command', format, content, owner: ctx.account.id, created: ctx.now, params: parsed.params };
      r.documents.set(name, d);
      return { DocumentDescription: { ...docDescription(ctx, d), Description: parsed.description } };
    },
    DescribeDocument: (ctx) => ({ Document: docDescription(ctx, doc(ctx, str(ctx.input.Name))) }),
    GetDocument: (ctx) => {
      const d = doc(ctx, str(ctx.input.Name));
      return { Name: d.name, CreatedDate: new Date(d.created), DocumentVersion: '1', Status: 'Active', Content: d.content, DocumentType: d.type, DocumentFormat: d.format };
    },
  },
};
