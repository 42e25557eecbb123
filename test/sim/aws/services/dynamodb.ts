// DynamoDB (awsJson1_0), per account and region: tables with a hash (and optional range) key,
// item operations with condition / update / filter / key-condition expressions, Query, Scan,
// TransactWriteItems.
import { SimError } from '../errors.js';
import type { Ctx, ServiceDef } from '../service.js';
import type { DdbTable } from '../world.js';
import {
  Refs, applyUpdate, avCompare, evalCond, parseCondition, parseProjection, parseUpdate, project,
  type Item,
} from './dynamodb-expr.js';

const invalid = (m: string) => new SimError('ValidationException', m, 400);

function tables(ctx: Ctx): Map<string, DdbTable> {
  let m = ctx.account.dynamodb.get(ctx.region);
  if (!m) ctx.account.dynamodb.set(ctx.region, (m = new Map()));
  return m;
}
function table(ctx: Ctx, name = String(ctx.input.TableName ?? '')): DdbTable {
  const t = tables(ctx).get(name.replace(/^arn:.*:table\//, ''));
  if (!t) throw new SimError('ResourceNotFoundException', 'Requested resource not found', 400);
  return t;
}
const keyNames = (t: DdbTable) => t.keySchema.map((k) => k.AttributeName);

/** Canonical key string of an item or key (hash, range) — also the sort order of a Scan. */
function keyOf(t: DdbTable, item: Item, strict: boolean): string {
  const names = keyNames(t);
  if (strict && Object.keys(item).length !== names.length) throw invalid('The provided key element does not match the schema');
  return JSON.stringify(names.map((n) => {
    const v = item[n];
    const def = t.attributeDefinitions.find((d) => d.AttributeName === n);
    if (!v || !def || v[def.AttributeType] === undefined) {
      throw invalid(strict ? 'The provided key element does not match the schema' : `One or more parameter values were invalid: Missing the key ${n} in the item`);
    }
    return v;
  }));
}
function keyItem(t: DdbTable, item: Item): Item {
  const out: Item = {};
  for (const n of keyNames(t)) out[n] = item[n]!;
  return out;
}

function describe(t: DdbTable): Record<string, unknown> {
  return {
    TableName: t.name, TableArn: t.arn, TableId: t.arn.split('/').pop(), TableStatus: 'ACTIVE', CreationDateTime: new Date(t.created),
    KeySchema: t.keySchema, AttributeDefinitions: t.attributeDefinitions, ItemCount: t.items.size, TableSizeBytes: 0,
    BillingModeSummary: { BillingMode: 'PAY_PER_REQUEST' }, ProvisionedThroughput: { ReadCapacityUnits: 0, WriteCapacityUnits: 0, NumberOfDecreasesToday: 0 },
  };
}

interface Write { TableName?: string; Key?: Item; Item?: Item; ConditionExpression?: string; UpdateExpression?: string;
  ExpressionAttributeNames?: Record<string, string>; ExpressionAttributeValues?: Item; ReturnValuesOnConditionCheckFailure?: string }

/** Plan one write: check its condition against the current item, compute the new item. */
function plan(ctx: Ctx, kind: 'Put' | 'Update' | 'Delete' | 'ConditionCheck', w: Write) {
  const t = table(ctx, w.TableName ?? '');
  const refs = new Refs(w.ExpressionAttributeNames, w.ExpressionAttributeValues);
  const cond = w.ConditionExpression !== undefined ? parseCondition(w.ConditionExpression, refs) : undefined;
  const update = kind === 'Update' && w.UpdateExpression !== undefined ? parseUpdate(w.UpdateExpression, refs) : undefined;
  refs.checkUnused();
  const key = kind === 'Put' ? keyOf(t, w.Item ?? {}, false) : keyOf(t, w.Key ?? {}, true);
  const old = t.items.get(key);
  const ok = !cond || evalCond(old ?? {}, cond);
  let next: Item | undefined;
  let touched = new Set<string>();
  if (kind === 'Put') next = w.Item!;
  else if (kind === 'Update') {
    const base = old ?? structuredClone(w.Key!);
    if (update) { const r = applyUpdate(base, update, keyNames(t)); next = r.item; touched = r.touched; } else next = base;
  }
  return { t, key, old, ok, next, touched, kind };
}

function conditionFailed(old: Item | undefined, returnOld: boolean): SimError {
  return new SimError('ConditionalCheckFailedException', 'The conditional request failed', 400, returnOld && old ? { Item: old } : {});
}

function commit(p: ReturnType<typeof plan>): void {
  if (p.kind === 'ConditionCheck') return;
  if (p.kind === 'Delete') p.t.items.delete(p.key);
  else p.t.items.set(p.key, p.next!);
}

function pageItems(ctx: Ctx, t: DdbTable, items: [string, Item][], forward: boolean) {
  const input = ctx.input;
  const refs = new Refs(input.ExpressionAttributeNames as Record<string, string>, input.ExpressionAttributeValues as Item);
  const keyCond = input.KeyConditionExpression !== undefined ? parseCondition(String(input.KeyConditionExpression), refs, 'KeyConditionExpression') : undefined;
  const filter = input.FilterExpression !== undefined ? parseCondition(String(input.FilterExpression), refs, 'FilterExpression') : undefined;
  const proj = input.ProjectionExpression !== undefined ? parseProjection(String(input.ProjectionExpression), refs) : undefined;
  refs.checkUnused();
  if (ctx.op === 'Query' && !keyCond) throw invalid('Either the KeyConditions or KeyConditionExpression parameter must be specified in the request.');
  let rows = keyCond ? items.filter(([, it]) => evalCond(it, keyCond)) : items;
  const rangeKey = t.keySchema.find((k) => k.KeyType === 'RANGE')?.AttributeName;
  rows = [...rows].sort(([ka, a], [kb, b]) => {
    const d = rangeKey && ctx.op === 'Query' ? avCompare(a[rangeKey]!, b[rangeKey]!) ?? 0 : ka < kb ? -1 : ka > kb ? 1 : 0;
    return forward ? d : -d;
  });
  const start = input.ExclusiveStartKey as Item | undefined;
  if (start) {
    const sk = keyOf(t, start, true);
    const idx = rows.findIndex(([k]) => k === sk);
    rows = idx >= 0 ? rows.slice(idx + 1) : rows;
  }
  // Limit bounds the items evaluated (before the filter), as in DynamoDB; 1 MB pages are not modelled.
  const limit = typeof input.Limit === 'number' ? input.Limit : undefined;
  const evaluated = limit !== undefined ? rows.slice(0, limit) : rows;
  const matched = filter ? evaluated.filter(([, it]) => evalCond(it, filter)) : evaluated;
  const more = limit !== undefined && rows.length > limit;
  const last = evaluated[evaluated.length - 1];
  return {
    ...(input.Select === 'COUNT' ? {} : { Items: matched.map(([, it]) => (proj ? project(it, proj) : it)) }),
    Count: matched.length, ScannedCount: evaluated.length,
    ...(more && last ? { LastEvaluatedKey: keyItem(t, last[1]) } : {}),
  };
}

function returnValues(mode: unknown, old: Item | undefined, next: Item | undefined, touched: Set<string>): Record<string, unknown> {
  const pick = (it: Item | undefined) => {
    if (!it) return undefined;
    const o: Item = {};
    for (const k of touched) if (it[k] !== undefined) o[k] = it[k]!;
    return o;
  };
  switch (mode) {
    case 'ALL_OLD': return old ? { Attributes: old } : {};
    case 'ALL_NEW': return next ? { Attributes: next } : {};
    case 'UPDATED_OLD': return old ? { Attributes: pick(old) } : {};
    case 'UPDATED_NEW': return { Attributes: pick(next) };
    case undefined: case 'NONE': return {};
    default: throw invalid(`1 validation error detected: Value '${String(mode)}' at 'returnValues' failed to satisfy constraint`);
  }
}

export const dynamoDbService: ServiceDef = {
  name: 'dynamodb',
  protocol: 'json1.0',
  iamPrefix: 'dynamodb',
  eventSource: 'dynamodb.amazonaws.com',
  family: () => 'dynamodb',
  mutating: new Set(['CreateTable', 'DeleteTable']), // data-plane writes are not management events
  resource: (ctx) => `arn:${ctx.world.partition}:dynamodb:${ctx.region}:${ctx.account.id}:table/${String(ctx.input.TableName ?? '*')}`,
  ops: {
    CreateTable: (ctx) => {
      const name = String(ctx.input.TableName ?? '');
      if (!/^[a-zA-Z0-9_.-]{3,255}$/.test(name)) throw invalid(`1 validation error detected: Value '${name}' at 'tableName' failed to satisfy constraint`);
      if (tables(ctx).has(name)) throw new SimError('ResourceInUseException', `Table already exists: ${name}`, 400);
      const keySchema = (ctx.input.KeySchema as DdbTable['keySchema'] | undefined) ?? [];
      const defs = (ctx.input.AttributeDefinitions as DdbTable['attributeDefinitions'] | undefined) ?? [];
      if (!keySchema.some((k) => k.KeyType === 'HASH') || keySchema.some((k) => !defs.some((d) => d.AttributeName === k.AttributeName))) {
        throw invalid('One or more parameter values were invalid: Some index key attributes are not defined in AttributeDefinitions.');
      }
      // HASH first, then RANGE: the key order used everywhere else.
      keySchema.sort((a) => (a.KeyType === 'HASH' ? -1 : 1));
      const t: DdbTable = { name, arn: `arn:${ctx.world.partition}:dynamodb:${ctx.region}:${ctx.account.id}:table/${name}`, created: ctx.now, keySchema, attributeDefinitions: defs, items: new Map() };
      tables(ctx).set(name, t);
      return { TableDescription: describe(t) };
    },
    DescribeTable: (ctx) => ({ Table: describe(table(ctx)) }),
    DeleteTable: (ctx) => { const t = table(ctx); tables(ctx).delete(t.name); return { TableDescription: { ...describe(t), TableStatus: 'DELETING' } }; },
    PutItem: (ctx) => {
      const p = plan(ctx, 'Put', ctx.input as Write);
      if (!p.ok) throw conditionFailed(p.old, ctx.input.ReturnValuesOnConditionCheckFailure === 'ALL_OLD');
      commit(p);
      return returnValues(ctx.input.ReturnValues, p.old, p.next, new Set());
    },
    UpdateItem: (ctx) => {
      const p = plan(ctx, 'Update', ctx.input as Write);
      if (!p.ok) throw conditionFailed(p.old, ctx.input.ReturnValuesOnConditionCheckFailure === 'ALL_OLD');
      commit(p);
      return returnValues(ctx.input.ReturnValues, p.old, p.next, p.touched);
    },
    DeleteItem: (ctx) => {
      const p = plan(ctx, 'Delete', ctx.input as Write);
      if (!p.ok) throw conditionFailed(p.old, ctx.input.ReturnValuesOnConditionCheckFailure === 'ALL_OLD');
      commit(p);
      return returnValues(ctx.input.ReturnValues, p.old, undefined, new Set());
    },
    GetItem: (ctx) => {
      const t = table(ctx);
      const it = t.items.get(keyOf(t, (ctx.input.Key as Item) ?? {}, true));
      const refs = new Refs(ctx.input.ExpressionAttributeNames as Record<string, string>);
      const proj = ctx.input.ProjectionExpression !== undefined ? parseProjection(String(ctx.input.ProjectionExpression), refs) : undefined;
      refs.checkUnused();
      return it ? { Item: proj ? project(it, proj) : it } : {};
    },
    Query: (ctx) => {
      const t = table(ctx);
      if (ctx.input.IndexName !== undefined) throw invalid('The table does not have the specified index'); // no GSIs modelled
      return pageItems(ctx, t, [...t.items.entries()], ctx.input.ScanIndexForward !== false);
    },
    Scan: (ctx) => { const t = table(ctx); return pageItems(ctx, t, [...t.items.entries()], true); },
    TransactWriteItems: (ctx) => {
      const items = (ctx.input.TransactItems as Record<string, Write>[] | undefined) ?? [];
      if (items.length === 0 || items.length > 100) throw invalid('1 validation error detected: Member must have length less than or equal to 100');
      const plans = items.map((ti) => {
        const kind = (['Put', 'Update', 'Delete', 'ConditionCheck'] as const).find((k) => ti[k]);
        if (!kind) throw invalid('TransactItems can only contain one of Check, Put, Update or Delete');
        return { p: plan(ctx, kind, ti[kind]!), w: ti[kind]! };
      });
      const seen = new Set(plans.map(({ p }) => `${p.t.arn}|${p.key}`));
      if (seen.size !== plans.length) throw invalid('Transaction request cannot include multiple operations on one item');
      if (plans.some(({ p }) => !p.ok)) {
        const reasons = plans.map(({ p, w }) => (p.ok ? { Code: 'None' } : {
          Code: 'ConditionalCheckFailed', Message: 'The conditional request failed',
          ...(w.ReturnValuesOnConditionCheckFailure === 'ALL_OLD' && p.old ? { Item: p.old } : {}),
        }));
        throw new SimError('TransactionCanceledException',
          `Transaction cancelled, please refer cancellation reasons for specific reasons [${reasons.map((r) => r.Code).join(', ')}]`, 400, { CancellationReasons: reasons });
      }
      for (const { p } of plans) commit(p);
      return {};
    },
  },
};
