// The JSON Schemas of protocol v1 in docs/protocol/, generated from the zod schemas the
// connector itself parses with (src/protocol, the job handlers, the access kinds, the
// policy file). Control-plane implementers build against these files; scripts/docs.ts
// writes them and fails the docs check when one is stale.
//
// Every schema describes the wire form (zod's input side): fields with a default may be
// left out. A zod refinement (an IAM name rule, an ARN's partition and account, an SSH key
// format) has no JSON Schema form: the generated schema is then looser than the connector,
// which still answers such a value with `job.rejected` `invalid` naming the field.
import { z, type ZodType } from 'zod';
import { accessParamsSchema } from '../src/access/params.js';
import { KINDS } from '../src/access/registry.js';
import { checkJob } from '../src/jobs/check.js';
import { policySchema } from '../src/policy/schema.js';
import { entitySchema, inboundSchemas, integrationSchema, outboundSchemas } from '../src/protocol/messages.js';
import { syncParams } from '../src/sync/run-sync.js';

type Json = Record<string, unknown>;

/** JSON Schema patterns have no flags: a case-insensitive regex becomes one that lists both cases. */
export function caseInsensitiveSource(source: string): string {
  let out = '';
  let inClass = false;
  for (let i = 0; i < source.length; i++) {
    const c = source[i]!;
    if (c === '\\') {
      out += source.slice(i, i + 2);
      i++;
      continue;
    }
    if (inClass) {
      if (c === ']') inClass = false;
      const range = /^([a-zA-Z])-([a-zA-Z])/.exec(source.slice(i));
      if (range) {
        const [, from, to] = range as unknown as [string, string, string];
        out += `${from.toLowerCase()}-${to.toLowerCase()}${from.toUpperCase()}-${to.toUpperCase()}`;
        i += 2;
        continue;
      }
      out += /[a-zA-Z]/.test(c) ? c.toLowerCase() + c.toUpperCase() : c;
      continue;
    }
    if (c === '[') inClass = true;
    out += /[a-zA-Z]/.test(c) ? `[${c.toLowerCase()}${c.toUpperCase()}]` : c;
  }
  return out;
}

function toSchema(schema: ZodType, title: string, description: string): Json {
  const json = z.toJSONSchema(schema, {
    io: 'input',
    unrepresentable: 'throw',
    override: (ctx) => {
      const checks = (ctx.zodSchema as unknown as { _zod: { def: { checks?: Array<{ _zod: { def: { pattern?: unknown } } }> } } })._zod.def.checks;
      for (const c of checks ?? []) {
        const re = c._zod.def.pattern;
        if (re instanceof RegExp && re.flags.includes('i') && ctx.jsonSchema.pattern === re.source) ctx.jsonSchema.pattern = caseInsensitiveSource(re.source);
      }
    },
  }) as Json;
  const { $schema, ...rest } = json;
  return { $schema, title, description, ...rest };
}

const FRAME_DESCRIPTIONS: Record<string, string> = {
  welcome: 'Control plane → connector: opens the session after hello (docs/protocol.md, "Frames").',
  job: 'Control plane → connector: one job. params follow docs/protocol/params/<jobType>.schema.json.',
  'job.cancel': 'Control plane → connector: cancel a job.',
  ack: 'Control plane → connector: these connector frame ids are durably received.',
  error: 'Either direction: the answer to a frame that could not be used.',
  hello: 'Connector → control plane: the first frame of every connection.',
  'job.accepted': 'Connector → control plane: the job was admitted (acked frame).',
  'job.rejected': 'Connector → control plane: the job was refused, with the reason (acked frame).',
  'job.progress': 'Connector → control plane: lossy progress of a running job.',
  'sync.batch': 'Connector → control plane: up to 500 entities of a sync (acked frame).',
  'job.result': 'Connector → control plane: how a job ended (acked frame).',
};

/** grant and revoke params: the common shape, and for each accessKind the target that kind takes. */
function accessParams(jobType: 'grant' | 'revoke'): Json {
  const base = toSchema(accessParamsSchema, `${jobType} params`, `params of a ${jobType} job (docs/protocol.md, "Access kinds"). target is checked against the access kind's schema.`);
  return {
    ...base,
    allOf: KINDS.map((k) => {
      const { $schema: _s, ...target } = toSchema(k.target, `${k.name} target`, k.summary);
      return {
        if: { properties: { accessKind: { const: k.name } }, required: ['accessKind'] },
        then: { properties: { principal: { properties: { type: { enum: [...k.principalTypes] } } }, target } },
      };
    }),
  };
}

/** Every generated file, by its path under the repository root, in a stable order. */
export function protocolSchemas(): Map<string, Json> {
  const files = new Map<string, Json>();
  const frames = { ...inboundSchemas, ...outboundSchemas } as Record<string, ZodType>;
  for (const [type, schema] of Object.entries(frames)) {
    files.set(`docs/protocol/frames/${type}.schema.json`, toSchema(schema, `${type} frame`, FRAME_DESCRIPTIONS[type]!));
  }
  files.set('docs/protocol/integration.schema.json', toSchema(integrationSchema, 'integration', 'The integration sent with every job; never holds a secret (docs/protocol.md, "Integration").'));
  files.set('docs/protocol/entity.schema.json', toSchema(entitySchema, 'entity', 'One entity of a sync.batch (docs/protocol.md, "Entities and coverage").'));
  files.set('docs/protocol/params/sync.schema.json', toSchema(syncParams, 'sync params', 'params of a sync job (docs/protocol.md, "Job params").'));
  files.set('docs/protocol/params/check.schema.json', toSchema(checkJob(undefined as never).params, 'check params', 'params of a check job (docs/protocol.md, "Job params").'));
  files.set('docs/protocol/params/grant.schema.json', accessParams('grant'));
  files.set('docs/protocol/params/revoke.schema.json', accessParams('revoke'));
  for (const k of KINDS) {
    files.set(`docs/protocol/access-kinds/${k.name}.target.schema.json`, toSchema(k.target, `${k.name} target`, `${k.summary} Principal types: ${k.principalTypes.join(', ')}.`));
  }
  files.set('docs/protocol/policy.schema.json', toSchema(policySchema, 'policy file', "The customer's policy file, CONNECTOR_POLICY_FILE, as JSON or YAML (docs/policy.md)."));
  return files;
}

export function renderSchema(json: Json): string {
  return `${JSON.stringify(json, null, 2)}\n`;
}
