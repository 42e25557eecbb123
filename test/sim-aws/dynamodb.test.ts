import {
  DynamoDBClient, CreateTableCommand, DescribeTableCommand, PutItemCommand, GetItemCommand, UpdateItemCommand, DeleteItemCommand,
  QueryCommand, ScanCommand, TransactWriteItemsCommand, DeleteTableCommand,
  ConditionalCheckFailedException, TransactionCanceledException, ResourceNotFoundException, ResourceInUseException,
} from '@aws-sdk/client-dynamodb';
import { startAwsSimulator, type AwsSimulator } from '../sim/aws/index.js';
import { cfg, failure } from './helpers.js';

const T = 'access-connector-ledger';

describe('DynamoDB', () => {
  let sim: AwsSimulator;
  let db: DynamoDBClient;
  beforeAll(async () => {
    sim = await startAwsSimulator({ quotas: false });
    db = new DynamoDBClient(cfg(sim));
  });
  afterAll(() => sim.close());

  test('tables: the demo ledger exists; create, describe, duplicate, delete', async () => {
    const d = await db.send(new DescribeTableCommand({ TableName: T }));
    expect(d.Table?.KeySchema).toEqual([{ AttributeName: 'pk', KeyType: 'HASH' }, { AttributeName: 'sk', KeyType: 'RANGE' }]);
    expect(d.Table?.CreationDateTime).toBeInstanceOf(Date);
    await db.send(new CreateTableCommand({ TableName: 'scratch', KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }], AttributeDefinitions: [{ AttributeName: 'id', AttributeType: 'S' }], BillingMode: 'PAY_PER_REQUEST' }));
    expect(await failure(db.send(new CreateTableCommand({ TableName: 'scratch', KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }], AttributeDefinitions: [{ AttributeName: 'id', AttributeType: 'S' }] })))).toBeInstanceOf(ResourceInUseException);
    await db.send(new DeleteTableCommand({ TableName: 'scratch' }));
    expect(await failure(db.send(new DescribeTableCommand({ TableName: 'scratch' })))).toBeInstanceOf(ResourceNotFoundException);
  });

  test('conditional writes on a version attribute', async () => {
    const key = { pk: { S: 'grant#g1' }, sk: { S: 'state' } };
    await db.send(new PutItemCommand({ TableName: T, Item: { ...key, version: { N: '1' }, state: { S: 'granting' } }, ConditionExpression: 'attribute_not_exists(pk)' }));
    const dup = await failure(db.send(new PutItemCommand({ TableName: T, Item: { ...key, version: { N: '1' } }, ConditionExpression: 'attribute_not_exists(pk)' })));
    expect(dup).toBeInstanceOf(ConditionalCheckFailedException);
    expect(dup.message).toBe('The conditional request failed');
    const upd = await db.send(new UpdateItemCommand({
      TableName: T, Key: key, UpdateExpression: 'SET #s = :s, version = version + :one, history = list_append(if_not_exists(history, :empty), :h) ADD touches :one REMOVE obsolete',
      ConditionExpression: 'version = :v', ExpressionAttributeNames: { '#s': 'state' },
      ExpressionAttributeValues: { ':s': { S: 'granted' }, ':one': { N: '1' }, ':v': { N: '1' }, ':empty': { L: [] }, ':h': { L: [{ S: 'granted' }] } },
      ReturnValues: 'ALL_NEW',
    }));
    expect(upd.Attributes).toMatchObject({ state: { S: 'granted' }, version: { N: '2' }, touches: { N: '1' }, history: { L: [{ S: 'granted' }] } });
    // A stale writer loses, and can see the item it lost against.
    const stale = await failure(db.send(new UpdateItemCommand({ TableName: T, Key: key, UpdateExpression: 'SET #s = :s', ConditionExpression: 'version = :v',
      ExpressionAttributeNames: { '#s': 'state' }, ExpressionAttributeValues: { ':s': { S: 'revoked' }, ':v': { N: '1' } }, ReturnValuesOnConditionCheckFailure: 'ALL_OLD' })));
    expect(stale).toBeInstanceOf(ConditionalCheckFailedException);
    expect((stale as ConditionalCheckFailedException).Item?.version).toEqual({ N: '2' });
    const got = await db.send(new GetItemCommand({ TableName: T, Key: key, ConsistentRead: true }));
    expect(got.Item?.state).toEqual({ S: 'granted' });
    // Condition language: AND/OR/NOT, parentheses, IN, BETWEEN, begins_with, size.
    await db.send(new UpdateItemCommand({ TableName: T, Key: key, UpdateExpression: 'SET note = :n',
      ConditionExpression: '(version BETWEEN :a AND :b) AND #s IN (:x, :y) AND NOT attribute_exists(nope) AND begins_with(pk, :p) AND size(history) > :zero OR version = :zero',
      ExpressionAttributeNames: { '#s': 'state' },
      ExpressionAttributeValues: { ':n': { S: 'ok' }, ':a': { N: '1' }, ':b': { N: '5' }, ':x': { S: 'granted' }, ':y': { S: 'revoked' }, ':p': { S: 'grant#' }, ':zero': { N: '0' } } }));
    expect(sim.admin.ddbItems({ accountId: '999999999999', region: 'us-east-1', table: T })).toContainEqual(expect.objectContaining({ note: { S: 'ok' } }));
    // Reserved words must be aliased; unused expression values are rejected — as in DynamoDB.
    expect((await failure(db.send(new UpdateItemCommand({ TableName: T, Key: key, UpdateExpression: 'SET state = :s', ExpressionAttributeValues: { ':s': { S: 'x' } } })))).name).toBe('ValidationException');
    expect((await failure(db.send(new GetItemCommand({ TableName: T, Key: key, ExpressionAttributeNames: { '#unused': 'x' } })))).name).toBe('ValidationException');
    const del = await failure(db.send(new DeleteItemCommand({ TableName: T, Key: key, ConditionExpression: 'version = :v', ExpressionAttributeValues: { ':v': { N: '9' } } })));
    expect(del).toBeInstanceOf(ConditionalCheckFailedException);
    const gone = await db.send(new DeleteItemCommand({ TableName: T, Key: key, ReturnValues: 'ALL_OLD' }));
    expect(gone.Attributes?.version).toEqual({ N: '2' });
  });

  test('Query with key conditions, filters, order and Limit pagination; Scan', async () => {
    for (let i = 0; i < 7; i++) {
      await db.send(new PutItemCommand({ TableName: T, Item: { pk: { S: 'grant#q' }, sk: { S: `event#${String(i).padStart(3, '0')}` }, kind: { S: i % 2 ? 'odd' : 'even' }, n: { N: String(i) } } }));
    }
    await db.send(new PutItemCommand({ TableName: T, Item: { pk: { S: 'grant#other' }, sk: { S: 'event#000' } } }));
    const q = (extra: object) => db.send(new QueryCommand({ TableName: T, KeyConditionExpression: 'pk = :pk AND begins_with(sk, :e)', ExpressionAttributeValues: { ':pk': { S: 'grant#q' }, ':e': { S: 'event#' } }, ...extra }));
    expect((await q({})).Items).toHaveLength(7);
    const desc = await q({ ScanIndexForward: false });
    expect(desc.Items![0]!.sk).toEqual({ S: 'event#006' });
    const seen: string[] = [];
    let start: Record<string, unknown> | undefined;
    let pages = 0;
    do {
      const r = await q({ Limit: 3, ...(start ? { ExclusiveStartKey: start } : {}) });
      seen.push(...r.Items!.map((it) => it.sk!.S!));
      start = r.LastEvaluatedKey;
      pages++;
    } while (start);
    expect(seen).toEqual(['event#000', 'event#001', 'event#002', 'event#003', 'event#004', 'event#005', 'event#006']);
    expect(pages).toBe(3);
    const filtered = await db.send(new QueryCommand({ TableName: T, KeyConditionExpression: 'pk = :pk AND sk BETWEEN :a AND :b', FilterExpression: 'kind = :k',
      ExpressionAttributeValues: { ':pk': { S: 'grant#q' }, ':a': { S: 'event#001' }, ':b': { S: 'event#005' }, ':k': { S: 'odd' } } }));
    expect(filtered.Items!.map((it) => it.n!.N)).toEqual(['1', '3', '5']);
    expect(filtered.ScannedCount).toBe(5);
    const scan = await db.send(new ScanCommand({ TableName: T, FilterExpression: 'n >= :three', ExpressionAttributeValues: { ':three': { N: '3' } } }));
    expect(scan.Count).toBe(4);
  });

  test('TransactWriteItems is all-or-nothing', async () => {
    const a = { pk: { S: 'tx#a' }, sk: { S: 's' } };
    const b = { pk: { S: 'tx#b' }, sk: { S: 's' } };
    await db.send(new TransactWriteItemsCommand({ TransactItems: [
      { Put: { TableName: T, Item: { ...a, v: { N: '1' } }, ConditionExpression: 'attribute_not_exists(pk)' } },
      { Put: { TableName: T, Item: { ...b, v: { N: '1' } } } },
    ] }));
    const e = await failure(db.send(new TransactWriteItemsCommand({ TransactItems: [
      { Update: { TableName: T, Key: a, UpdateExpression: 'SET v = :two', ExpressionAttributeValues: { ':two': { N: '2' } } } },
      { ConditionCheck: { TableName: T, Key: b, ConditionExpression: 'v = :nine', ExpressionAttributeValues: { ':nine': { N: '9' } } } },
    ] })));
    expect(e).toBeInstanceOf(TransactionCanceledException);
    expect((e as TransactionCanceledException).CancellationReasons?.map((r) => r.Code)).toEqual(['None', 'ConditionalCheckFailed']);
    expect((await db.send(new GetItemCommand({ TableName: T, Key: a }))).Item?.v).toEqual({ N: '1' });
  });
});
