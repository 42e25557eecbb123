// EC2 (the `ec2` query protocol), per account and region: the one read the connector makes,
// DescribeInstances, answered from the SSM-managed instances of the world that are EC2
// instances (`i-` ids). Its instance profile is the one named by the instance's `iamRole`
// (the console makes a profile of the role's name); GetInstanceProfile is in services/iam.ts.
//
// Wire shape (EC2 API reference, "Query requests" and "Error codes"): lists arrive as
// `Name.N` (no `member`), the answer is XML without a Result wrapper, lists are `<item>`s,
// and errors are `<Response><Errors><Error>…</Error></Errors><RequestID>`.
import { SimError } from '../errors.js';
import { escapeXml } from '../codecs/query.js';
import type { Ctx, ServiceDef } from '../service.js';
import { ssmRegion } from '../world.js';
import { num, paginate, str } from '../util.js';

export const EC2_NS = 'http://ec2.amazonaws.com/doc/2016-11-15/';

/** `{ '1': a, '2': b }` → `[a, b]`, as EC2 numbers list members (`Filter.1.Value.2`). */
function numbered(v: unknown): unknown[] {
  if (typeof v !== 'object' || v === null) return v === undefined ? [] : [v];
  return Object.keys(v).sort((a, b) => Number(a) - Number(b)).map((k) => (v as Record<string, unknown>)[k]);
}

/** Value → EC2 XML: arrays are `<item>` lists. */
export function ec2Xml(name: string, v: unknown): string {
  if (v === undefined || v === null) return '';
  if (Array.isArray(v)) return `<${name}>${v.map((x) => ec2Xml('item', x)).join('')}</${name}>`;
  if (typeof v === 'object') return `<${name}>${Object.entries(v as Record<string, unknown>).map(([k, x]) => ec2Xml(k, x)).join('')}</${name}>`;
  return `<${name}>${escapeXml(String(v))}</${name}>`;
}

export function encodeEc2Result(op: string, out: Record<string, unknown>, requestId: string): string {
  return `<?xml version="1.0" encoding="UTF-8"?>\n<${op}Response xmlns="${EC2_NS}"><requestId>${requestId}</requestId>${Object.entries(out).map(([k, v]) => ec2Xml(k, v)).join('')}</${op}Response>`;
}

export function encodeEc2Error(err: SimError, requestId: string): string {
  return `<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error><Code>${escapeXml(err.code)}</Code><Message>${escapeXml(err.message)}</Message></Error></Errors><RequestID>${requestId}</RequestID></Response>`;
}

const INSTANCE_ID = /^i-[0-9a-f]{8,17}$/;

export const ec2Service: ServiceDef = {
  name: 'ec2',
  protocol: 'ec2',
  iamPrefix: 'ec2',
  eventSource: 'ec2.amazonaws.com',
  family: () => 'ec2',
  mutating: new Set(),
  ops: {
    DescribeInstances: (ctx: Ctx) => {
      const ids = numbered(ctx.input.InstanceId).map(String);
      const filters = numbered(ctx.input.Filter).map((f) => {
        const o = f as { Name?: string; Value?: unknown };
        return { name: String(o.Name ?? ''), values: numbered(o.Value).map(String) };
      });
      for (const id of ids) if (!INSTANCE_ID.test(id)) throw new SimError('InvalidInstanceID.Malformed', `Invalid id: "${id}"`, 400);
      for (const f of filters) {
        if (f.name !== 'instance-id' && !f.name.startsWith('tag:')) throw new SimError('InvalidParameterValue', `The filter '${f.name}' is invalid`, 400);
      }
      let all = [...ssmRegion(ctx.account, ctx.region).instances.values()].filter((i) => i.id.startsWith('i-')).sort((x, y) => (x.id < y.id ? -1 : 1));
      // Named ids that do not exist are an error; filters merely match nothing.
      const missing = ids.filter((id) => !all.some((i) => i.id === id));
      if (missing.length > 0) throw new SimError('InvalidInstanceID.NotFound', `The instance IDs '${missing.join(', ')}' do not exist`, 400);
      if (ids.length > 0) all = all.filter((i) => ids.includes(i.id));
      for (const f of filters) {
        if (f.name === 'instance-id') all = all.filter((i) => f.values.includes(i.id));
        else all = all.filter((i) => i.tags?.some((t) => t.Key === f.name.slice(4) && f.values.includes(t.Value)));
      }
      // MaxResults 5–1000, not allowed together with InstanceId (API reference).
      if (ids.length > 0 && ctx.input.MaxResults !== undefined) throw new SimError('InvalidParameterCombination', 'The parameter instancesSet cannot be used with the parameter maxResults', 400);
      const p = paginate(all, {
        max: num(ctx.input.MaxResults), token: str(ctx.input.NextToken), cap: 1000, min: 5, scope: `${ctx.account.id}|${ctx.region}|ec2|${JSON.stringify(filters)}`,
        invalidToken: () => new SimError('InvalidParameterValue', 'Invalid value for NextToken', 400),
        tooLarge: (n) => new SimError('InvalidParameterValue', `Value ( ${n} ) for parameter maxResults is invalid. Expecting a value between 5 and 1000.`, 400),
      });
      const w = ctx.world;
      return {
        reservationSet: p.items.map((i) => ({
          reservationId: `r-${i.id.slice(2)}`, ownerId: ctx.account.id, groupSet: [],
          instancesSet: [{
            instanceId: i.id, privateIpAddress: i.ip, privateDnsName: i.computerName,
            instanceState: i.ping === 'Online' ? { code: 16, name: 'running' } : { code: 80, name: 'stopped' },
            ...(i.iamRole ? { iamInstanceProfile: { arn: `arn:${w.partition}:iam::${ctx.account.id}:instance-profile/${i.iamRole}`, id: `AIPA${i.id.slice(2, 19).toUpperCase().padEnd(17, 'X')}` } } : {}),
            ...(i.tags && i.tags.length ? { tagSet: i.tags.map((t) => ({ key: t.Key, value: t.Value })) } : {}),
          }],
        })),
        ...(p.next ? { nextToken: p.next } : {}),
      };
    },
  },
  resource: (ctx) => `arn:${ctx.world.partition}:ec2:${ctx.region}:${ctx.account.id}:instance/*`,
};
