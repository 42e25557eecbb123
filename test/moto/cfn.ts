// Deploys our CloudFormation templates into moto's CloudFormation: an engine we did not
// write evaluates their parameters, conditions and intrinsics and creates what it models.
// moto 5.2.5 has bugs a real deployment does not; each is worked around by one small,
// named transformation of the template, printed when it applies (docs/moto.md lists them,
// and what moto does not model at all).
//
// There is no CloudFormation SDK client among our dependencies: the calls are made with
// the Query protocol (form-encoded POST, XML answer), which is all moto needs.
import { readFileSync } from 'node:fs';

import { loadTemplate, Evaluated, type Template } from '../helpers/cfn.js';
import { MOTO_CREDENTIALS, MOTO_REGION } from './moto.js';

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

const VERSIONS: Record<string, string> = { cloudformation: '2010-05-15', ec2: '2016-11-15' };

/** One Query-protocol call; the answer's XML, or an Error with moto's message. */
export async function query(url: string, service: 'cloudformation' | 'ec2', action: string, params: Record<string, string> = {}, accessKeyId: string = MOTO_CREDENTIALS.accessKeyId): Promise<string> {
  const body = new URLSearchParams({ Action: action, Version: VERSIONS[service]!, ...params });
  const r = await fetch(url, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded; charset=utf-8',
      // moto routes by the credential scope's service and picks the account from the key.
      authorization: `AWS4-HMAC-SHA256 Credential=${accessKeyId}/20260101/${MOTO_REGION}/${service}/aws4_request, SignedHeaders=host, Signature=0`,
    },
    body,
  });
  const text = await r.text();
  if (!r.ok) throw new Error(`${service}:${action} HTTP ${r.status}: ${(/<Message>([\s\S]*?)<\/Message>/.exec(text)?.[1] ?? text).slice(0, 2000)}`);
  return text;
}

/** Text of every <name>…</name> in `xml` (no nesting of the same name). */
export function tags(xml: string, name: string): string[] {
  return [...xml.matchAll(new RegExp(`<${name}>([\\s\\S]*?)</${name}>`, 'g'))].map((m) => decodeXml(m[1]!));
}
const decodeXml = (s: string) => s.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&apos;/g, "'").replace(/&amp;/g, '&');

/** Query-protocol list arguments: `Prefix.member.N.Key`. */
export function members(prefix: string, items: Array<string | Record<string, string>>): Record<string, string> {
  const out: Record<string, string> = {};
  items.forEach((item, i) => {
    if (typeof item === 'string') out[`${prefix}.member.${i + 1}`] = item;
    else for (const [k, v] of Object.entries(item)) out[`${prefix}.member.${i + 1}.${k}`] = v;
  });
  return out;
}
export const parameterList = (params: Record<string, string>) => Object.entries(params).map(([ParameterKey, ParameterValue]) => ({ ParameterKey, ParameterValue }));

// ---------------------------------------------------------------------------------------
// Transformations: each names the moto bug it works around. None changes what AWS would do
// with the template.

export interface Applied { name: string; where: string; why: string }

export const TRANSFORMATIONS = {
  json: 'moto 5.2.5 reads the YAML short form !Condition as Fn::Condition, which its condition parser never finds true (moto/cloudformation/utils.py yaml_tag_constructor); the template goes as JSON with the long forms, which CloudFormation treats the same',
  numberRef: 'moto 5.2.5 turns a Number parameter into an int: in a condition it never equals a string (0 != "0"), and as a FindInMap key it misses the mapping\'s string keys; Fn::Join [\'\', [Ref]] is the same string in AWS',
  noValueItem: 'moto 5.2.5 keeps AWS::NoValue in a list as null (AWS drops the item), which breaks tags, environment variables and volumes; list items whose Fn::If picks AWS::NoValue with these parameters are dropped (the condition evaluated by test/helpers/cfn.ts)',
  policyText: 'moto 5.2.5 keeps an inline policy of AWS::IAM::Role as an object, and GetAccountAuthorizationDetails then fails with HTTP 500 (quote_from_bytes); Fn::ToJsonString hands moto the JSON text AWS stores',
} as const;

/**
 * The template of `file` as moto should get it for these parameters, with the list of
 * transformations applied (each also printed).
 */
export function prepareTemplate(file: string, params: Record<string, string>, skip: Array<keyof typeof TRANSFORMATIONS> = []): { body: string; applied: Applied[] } {
  const t = loadTemplate(file) as unknown as Template & { Conditions?: Record<string, Json>; Mappings?: Json };
  const applied: Applied[] = skip.includes('json') ? [] : [{ name: 'json', where: file.split('/').pop()!, why: TRANSFORMATIONS.json }];
  const numbers = new Set(Object.entries(t.Parameters ?? {}).filter(([, p]) => p.Type === 'Number').map(([k]) => k));

  // numberRef: in Conditions and in FindInMap arguments.
  const asString = (v: Json, where: string, inside: boolean): Json => {
    if (Array.isArray(v)) return v.map((x, i) => asString(x, `${where}[${i}]`, inside));
    if (v === null || typeof v !== 'object') return v;
    const keys = Object.keys(v);
    if (inside && keys.length === 1 && keys[0] === 'Ref' && numbers.has(String(v['Ref']))) {
      applied.push({ name: 'numberRef', where: `${where} (Ref ${String(v['Ref'])})`, why: TRANSFORMATIONS.numberRef });
      return { 'Fn::Join': ['', [v]] };
    }
    const o: Record<string, Json> = {};
    for (const [k, x] of Object.entries(v)) o[k] = asString(x, `${where}.${k}`, inside || k === 'Fn::FindInMap');
    return o;
  };
  if (!skip.includes('numberRef')) {
    for (const [name, c] of Object.entries(t.Conditions ?? {})) t.Conditions![name] = asString(c, `Conditions.${name}`, true);
    t.Resources = asString(t.Resources as unknown as Json, 'Resources', false) as unknown as Template['Resources'];
    if (t.Outputs) t.Outputs = asString(t.Outputs as Json, 'Outputs', false) as Template['Outputs'];
  }

  // noValueItem: list items that resolve to AWS::NoValue.
  const ev = new Evaluated(loadTemplate(file), params);
  const isNoValue = (x: Json) => typeof x === 'object' && x !== null && !Array.isArray(x) && x['Ref'] === 'AWS::NoValue';
  const dropNoValue = (v: Json, where: string): Json => {
    if (Array.isArray(v)) {
      const out: Json[] = [];
      v.forEach((x, i) => {
        const f = x !== null && typeof x === 'object' && !Array.isArray(x) ? (x['Fn::If'] as Json[] | undefined) : undefined;
        if (f && (isNoValue(f[1]!) || isNoValue(f[2]!))) {
          const picked = ev.condition(String(f[0])) ? f[1]! : f[2]!;
          if (isNoValue(picked)) {
            applied.push({ name: 'noValueItem', where: `${where}[${i}] (Fn::If ${String(f[0])})`, why: TRANSFORMATIONS.noValueItem });
            return;
          }
        }
        out.push(dropNoValue(x, `${where}[${i}]`));
      });
      return out;
    }
    if (v === null || typeof v !== 'object') return v;
    const o: Record<string, Json> = {};
    for (const [k, x] of Object.entries(v)) o[k] = dropNoValue(x, `${where}.${k}`);
    return o;
  };
  for (const [id, r] of Object.entries(t.Resources)) {
    if (skip.includes('noValueItem') || (r.Condition !== undefined && !ev.condition(r.Condition))) continue;
    r.Properties = dropNoValue((r.Properties ?? {}) as Json, `Resources.${id}.Properties`) as Record<string, Json>;
  }
  // policyText: inline policies of roles.
  for (const [id, r] of Object.entries(t.Resources)) {
    if (r.Type !== 'AWS::IAM::Role' || skip.includes('policyText')) continue;
    ((r.Properties?.['Policies'] ?? []) as Array<Record<string, Json>>).forEach((p, i) => {
      p['PolicyDocument'] = { 'Fn::ToJsonString': p['PolicyDocument']! };
      applied.push({ name: 'policyText', where: `Resources.${id}.Properties.Policies[${i}]`, why: TRANSFORMATIONS.policyText });
    });
  }

  // One line per transformation and template, with every place it applied.
  const template = file.split('/').pop()!;
  for (const name of new Set(applied.map((a) => a.name))) {
    const at = applied.filter((a) => a.name === name);
    console.log(`moto transformation ${name} (${template}, ${at.length}x): ${at[0]!.why}\n  at ${at.map((a) => a.where).join('; ')}`);
  }
  return { body: skip.includes('json') ? readFileSync(file, 'utf8') : JSON.stringify(t), applied };
}

// ---------------------------------------------------------------------------------------
// Stacks

export interface DeployedStack { status: string; reason: string; outputs: Record<string, string>; resources: Array<{ id: string; type: string; physicalId: string; status: string }>; applied: Applied[] }

export async function createStack(url: string, name: string, file: string, params: Record<string, string>, opts: { capabilities?: string[]; tags?: Record<string, string>; skip?: Array<keyof typeof TRANSFORMATIONS> } = {}): Promise<DeployedStack> {
  const { body, applied } = prepareTemplate(file, params, opts.skip);
  await query(url, 'cloudformation', 'CreateStack', {
    StackName: name,
    TemplateBody: body,
    ...members('Parameters', parameterList(params)),
    ...members('Capabilities', opts.capabilities ?? ['CAPABILITY_NAMED_IAM']),
    ...members('Tags', Object.entries(opts.tags ?? {}).map(([Key, Value]) => ({ Key, Value }))),
  });
  return { ...(await describeStack(url, name)), applied };
}

export async function describeStack(url: string, name: string): Promise<Omit<DeployedStack, 'applied'>> {
  const xml = await query(url, 'cloudformation', 'DescribeStacks', { StackName: name });
  const outputs: Record<string, string> = {};
  for (const m of xml.matchAll(/<member>\s*<OutputKey>([^<]*)<\/OutputKey>\s*<OutputValue>([^<]*)<\/OutputValue>/g)) outputs[m[1]!] = decodeXml(m[2]!);
  const res = await query(url, 'cloudformation', 'ListStackResources', { StackName: name });
  const resources = [...res.matchAll(/<member>([\s\S]*?)<\/member>/g)].map((m) => ({
    id: tags(m[1]!, 'LogicalResourceId')[0] ?? '',
    type: tags(m[1]!, 'ResourceType')[0] ?? '',
    physicalId: tags(m[1]!, 'PhysicalResourceId')[0] ?? '',
    status: tags(m[1]!, 'ResourceStatus')[0] ?? '',
  }));
  return { status: tags(xml, 'StackStatus')[0] ?? '', reason: tags(xml, 'StackStatusReason')[0] ?? '', outputs, resources };
}
