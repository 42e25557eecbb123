// A minimal EC2 client for the one read the connector makes (DescribeInstances: an
// instance's instance profile and tags, for the policy). The project carries no EC2 SDK
// client for one call, so this speaks EC2's query protocol itself, and has the shape the
// client factory (src/aws/clients.ts) expects of an SDK client: the factory's middleware
// (declared actions, rate limits, metrics, credential renewal, error codes) wraps it like
// any other, and requests go through the factory's shared HTTP handler (proxy, abort).
//
// Wire format (EC2 API reference, "Query requests"): a SigV4-signed form POST with
// Action and Version; list members are `Name.N`; the answer is XML whose lists are
// `<item>`s; an error is `<Response><Errors><Error><Code/><Message/>`.
import { createHash, createHmac } from 'node:crypto';
import type { NodeHttpHandler } from '@smithy/node-http-handler';

const VERSION = '2016-11-15';
const MAX_BODY = 10 * 1024 * 1024;

type Middleware = (next: (args: unknown) => Promise<unknown>, context: Record<string, unknown>) => (args: unknown) => Promise<unknown>;
type Step = 'initialize' | 'serialize' | 'build' | 'finalizeRequest' | 'deserialize';
const STEPS: Step[] = ['initialize', 'serialize', 'build', 'finalizeRequest', 'deserialize'];
const PRIORITY = { high: 0, normal: 1, low: 2 } as const;

interface Credentials { accessKeyId: string; secretAccessKey: string; sessionToken?: string }
export interface Ec2ClientConfig {
  region: string;
  credentials: () => Promise<Credentials>;
  requestHandler: NodeHttpHandler;
  maxAttempts?: number;
  customUserAgent?: string;
}

/** An EC2 error as the SDK would raise it: name = AWS's code, so src/aws/errors.ts classifies it. */
export class Ec2ServiceError extends Error {
  readonly $fault: 'client' | 'server';
  readonly $metadata: { httpStatusCode: number };
  constructor(code: string, message: string, status: number) {
    super(message);
    this.name = code;
    this.$fault = status >= 500 ? 'server' : 'client';
    this.$metadata = { httpStatusCode: status };
  }
}

// ---- XML (only what EC2 answers: elements, text, the five entities and numeric references) ----

export interface XmlNode { name: string; children: XmlNode[]; text: string }

export function parseXml(xml: string): XmlNode {
  const root: XmlNode = { name: '', children: [], text: '' };
  const stack = [root];
  const re = /<\?[^>]*\?>|<!--[\s\S]*?-->|<(\/?)([A-Za-z_][\w.:-]*)[^>]*?(\/?)>|([^<]+)/g;
  for (let m = re.exec(xml); m; m = re.exec(xml)) {
    const top = stack[stack.length - 1]!;
    if (m[4] !== undefined) top.text += decodeEntities(m[4]);
    else if (m[2] === undefined) continue;
    else if (m[1] === '/') {
      if (top.name !== m[2] || stack.length === 1) throw new Error(`malformed XML: unexpected </${m[2]}>`);
      stack.pop();
    } else {
      const node: XmlNode = { name: m[2], children: [], text: '' };
      top.children.push(node);
      if (m[3] !== '/') stack.push(node);
    }
  }
  if (stack.length !== 1) throw new Error('malformed XML: unclosed element');
  return root;
}

function decodeEntities(s: string): string {
  return s.replace(/&(lt|gt|amp|quot|apos|#\d+|#x[0-9a-fA-F]+);/g, (_, e: string) =>
    e === 'lt' ? '<' : e === 'gt' ? '>' : e === 'amp' ? '&' : e === 'quot' ? '"' : e === 'apos' ? "'" : String.fromCodePoint(e[1] === 'x' ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10)));
}

export const child = (n: XmlNode | undefined, name: string): XmlNode | undefined => n?.children.find((c) => c.name === name);
export const text = (n: XmlNode | undefined, name: string): string | undefined => child(n, name)?.text.trim() || undefined;
export const items = (n: XmlNode | undefined, name: string): XmlNode[] => child(n, name)?.children.filter((c) => c.name === 'item') ?? [];

// ---- commands ----

export interface DescribeInstancesInput { Filters?: { Name: string; Values: string[] }[]; MaxResults?: number; NextToken?: string }
export interface Ec2Instance { InstanceId: string; IamInstanceProfile?: { Arn: string; Id?: string }; Tags: { Key: string; Value: string }[] }
export interface DescribeInstancesOutput { Instances: Ec2Instance[]; NextToken?: string }

export class DescribeInstancesCommand {
  // The action's name as data: a bundler may rename the class, so its `name` is no guide.
  readonly commandName = 'DescribeInstancesCommand';
  constructor(readonly input: DescribeInstancesInput) {}
  params(): Record<string, string> {
    const p: Record<string, string> = {};
    (this.input.Filters ?? []).forEach((f, i) => {
      p[`Filter.${i + 1}.Name`] = f.Name;
      f.Values.forEach((v, j) => (p[`Filter.${i + 1}.Value.${j + 1}`] = v));
    });
    if (this.input.MaxResults !== undefined) p.MaxResults = String(this.input.MaxResults);
    if (this.input.NextToken !== undefined) p.NextToken = this.input.NextToken;
    return p;
  }
  static parse(root: XmlNode): DescribeInstancesOutput {
    const body = child(root, 'DescribeInstancesResponse');
    if (!body) throw new Ec2ServiceError('InvalidResponse', 'ec2 answered DescribeInstances without a DescribeInstancesResponse', 500);
    const instances = items(body, 'reservationSet').flatMap((r) => items(r, 'instancesSet')).flatMap((i): Ec2Instance[] => {
      const id = text(i, 'instanceId');
      if (!id) return [];
      const profile = child(i, 'iamInstanceProfile');
      const arn = text(profile, 'arn');
      const id2 = text(profile, 'id');
      return [{
        InstanceId: id,
        ...(arn !== undefined && { IamInstanceProfile: { Arn: arn, ...(id2 !== undefined && { Id: id2 }) } }),
        Tags: items(i, 'tagSet').map((t) => ({ Key: child(t, 'key')?.text ?? '', Value: child(t, 'value')?.text ?? '' })),
      }];
    });
    const next = text(body, 'nextToken');
    return { Instances: instances, ...(next !== undefined && { NextToken: next }) };
  }
}

// ---- the client ----

const sha256 = (s: string) => createHash('sha256').update(s, 'utf8').digest('hex');
const hmac = (key: Buffer | string, s: string) => createHmac('sha256', key).update(s, 'utf8').digest();
const rfc3986 = (s: string) => encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

/** AWS_ENDPOINT_URL_EC2 / AWS_ENDPOINT_URL as the SDK honours them, else the regional endpoint of the region's partition. */
export function ec2Endpoint(region: string, env: NodeJS.ProcessEnv = process.env): URL {
  const configured = env.AWS_ENDPOINT_URL_EC2 ?? env.AWS_ENDPOINT_URL;
  if (configured) return new URL(configured);
  const fips = /^true$/i.test(env.AWS_USE_FIPS_ENDPOINT ?? '') ? '-fips' : '';
  const suffix = region.startsWith('cn-') ? 'amazonaws.com.cn' : 'amazonaws.com';
  return new URL(`https://ec2${fips}.${region}.${suffix}`);
}

export class EC2Client {
  private readonly stack: { mw: Middleware; step: Step; priority: number; order: number }[] = [];
  readonly middlewareStack = {
    add: (mw: Middleware, opts: Record<string, unknown>) => {
      this.stack.push({ mw, step: (opts.step as Step) ?? 'initialize', priority: PRIORITY[(opts.priority as keyof typeof PRIORITY) ?? 'normal'], order: this.stack.length });
    },
  };

  readonly config: Ec2ClientConfig;
  /** Made by the client factory, with the same configuration it gives SDK clients. */
  constructor(config: Record<string, unknown>) {
    this.config = config as unknown as Ec2ClientConfig;
  }

  destroy(): void {}

  async send(command: DescribeInstancesCommand): Promise<DescribeInstancesOutput> {
    const context = { clientName: 'EC2Client', commandName: command.commandName };
    const sorted = [...this.stack].sort((a, b) => STEPS.indexOf(a.step) - STEPS.indexOf(b.step) || a.priority - b.priority || a.order - b.order);
    const wrap = (list: typeof sorted, inner: (args: unknown) => Promise<unknown>) => list.reduceRight((next, m) => m.mw(next, context), inner);
    // The steps before finalizeRequest run once; finalizeRequest and later run per attempt, as in the SDK.
    const perAttempt = wrap(sorted.filter((m) => STEPS.indexOf(m.step) >= STEPS.indexOf('finalizeRequest')), () => this.attempt(command));
    const once = wrap(sorted.filter((m) => STEPS.indexOf(m.step) < STEPS.indexOf('finalizeRequest')), () => this.retrying(perAttempt));
    return (await once(command)) as DescribeInstancesOutput;
  }

  /** Throttling and server errors are retried with capped, jittered backoff, as the SDK's standard mode does. */
  private async retrying(attempt: (args: unknown) => Promise<unknown>): Promise<unknown> {
    const max = this.config.maxAttempts ?? 3;
    for (let n = 1; ; n++) {
      try {
        return await attempt(undefined);
      } catch (err) {
        const e = err as Partial<Ec2ServiceError>;
        const retryable = e.$metadata !== undefined && (e.$fault === 'server' || e.name === 'RequestLimitExceeded' || e.$metadata.httpStatusCode === 429);
        if (!retryable || n >= max) throw err;
        const cap = Math.min(20_000, 100 * 2 ** n);
        await new Promise((r) => setTimeout(r, cap / 2 + Math.random() * (cap / 2)));
      }
    }
  }

  private async attempt(command: DescribeInstancesCommand): Promise<DescribeInstancesOutput> {
    const region = this.config.region;
    const url = ec2Endpoint(region);
    const action = command.commandName.replace(/Command$/, '');
    const body = Object.entries({ Action: action, Version: VERSION, ...command.params() }).map(([k, v]) => `${rfc3986(k)}=${rfc3986(v)}`).join('&');
    const creds = await this.config.credentials();
    const now = new Date().toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
    const day = now.slice(0, 8);
    const headers: Record<string, string> = {
      host: url.host,
      'content-type': 'application/x-www-form-urlencoded; charset=utf-8',
      'x-amz-date': now,
      ...(creds.sessionToken !== undefined && { 'x-amz-security-token': creds.sessionToken }),
    };
    const names = Object.keys(headers).sort();
    const path = url.pathname || '/';
    const canonical = ['POST', path, '', ...names.map((h) => `${h}:${headers[h]!.trim()}`), '', names.join(';'), sha256(body)].join('\n');
    const scope = `${day}/${region}/ec2/aws4_request`;
    const key = hmac(hmac(hmac(hmac(`AWS4${creds.secretAccessKey}`, day), region), 'ec2'), 'aws4_request');
    const signature = createHmac('sha256', key).update(['AWS4-HMAC-SHA256', now, scope, sha256(canonical)].join('\n')).digest('hex');
    headers.authorization = `AWS4-HMAC-SHA256 Credential=${creds.accessKeyId}/${scope}, SignedHeaders=${names.join(';')}, Signature=${signature}`;
    if (this.config.customUserAgent) headers['user-agent'] = this.config.customUserAgent;

    const { response } = await this.config.requestHandler.handle({
      protocol: url.protocol, hostname: url.hostname, port: url.port ? Number(url.port) : undefined, method: 'POST', path, query: {}, headers, body,
    } as unknown as Parameters<NodeHttpHandler['handle']>[0]);
    let raw = '';
    for await (const chunk of response.body as AsyncIterable<Buffer>) {
      raw += chunk.toString('utf8');
      if (raw.length > MAX_BODY) throw new Ec2ServiceError('InvalidResponse', `ec2 answered ${action} with more than ${MAX_BODY} bytes`, 500);
    }
    const status = response.statusCode;
    let root: XmlNode;
    try {
      root = parseXml(raw);
    } catch (err) {
      throw new Ec2ServiceError(status >= 500 ? 'ServiceUnavailable' : 'InvalidResponse', `ec2 answered ${action} with HTTP ${status} and no readable XML (${(err as Error).message})`, status >= 400 ? status : 500);
    }
    if (status >= 300) {
      const e = child(child(child(root, 'Response'), 'Errors'), 'Error');
      throw new Ec2ServiceError(text(e, 'Code') ?? `Http${status}`, text(e, 'Message') ?? '', status);
    }
    return DescribeInstancesCommand.parse(root);
  }
}
