// The sync's compact unit bookkeeping (src/sync/unit-table.ts) gives back exactly what was
// planned, and cursors and fingerprints made from it are those of the plain structures.
import { encodeCursor, decodeCursor, unitsFingerprint } from '../../src/sync/cursor.js';
import { PositionSet, UnitTable } from '../../src/sync/unit-table.js';
import type { EntitySource, SyncUnit } from '../../src/sync/types.js';

const source = (name: EntitySource['name']): EntitySource => ({ name, scope: 'account', entityKinds: [], requiredActions: [], units: () => [], read: async function* () {} });

test('a unit table returns every unit and its source as planned, across growth', () => {
  const iam = source('iam');
  const ec2 = source('ec2');
  const org = source('organization');
  const planned: Array<{ unit: SyncUnit; source: EntitySource }> = [{ unit: { source: 'organization', accountId: '111111111111', region: 'global' }, source: org }];
  for (let a = 0; a < 700; a++) {
    const accountId = String(200000000000 + a);
    planned.push({ unit: { source: 'iam', accountId, region: 'global' }, source: iam });
    for (const region of ['us-east-1', 'eu-west-1', 'ap-south-1']) planned.push({ unit: { source: 'ec2', accountId, region }, source: ec2 });
    // The management account's units between member accounts' (global units do this).
    if (a % 100 === 0) planned.push({ unit: { source: 'iam', accountId: '111111111111', region: 'global' }, source: iam });
  }
  const table = new UnitTable();
  for (const [i, p] of planned.entries()) expect(table.push(p.unit, p.source)).toBe(i);
  expect(table.length).toBe(planned.length);
  for (const [i, p] of planned.entries()) {
    expect(table.unit(i)).toEqual(p.unit);
    expect(Object.keys(table.unit(i))).toEqual(Object.keys(p.unit));
    expect(table.source(i)).toBe(p.source);
  }
  expect([...table.units()]).toEqual(planned.map((p) => p.unit));
  expect(unitsFingerprint(table.units())).toBe(unitsFingerprint(planned.map((p) => p.unit)));
  expect(() => table.unit(planned.length)).toThrow(RangeError);
});

test('a position set holds each position once and iterates in ascending order', () => {
  const positions = [0, 31, 32, 33, 63, 64, 5000, 1, 100_000, 31, 70_001, 2047, 2048];
  const set = new PositionSet();
  const plain = new Set<number>();
  for (const p of positions) {
    set.add(p);
    plain.add(p);
  }
  expect(set.size).toBe(plain.size);
  expect([...set]).toEqual([...plain].sort((a, b) => a - b));
  for (let p = 0; p < 100_010; p++) expect(set.has(p)).toBe(plain.has(p));
  expect(set.has(10_000_000)).toBe(false);
  // A cursor made from it is the one a Set of the same positions makes, byte for byte.
  expect(encodeCursor('int', 'h', 'f', set)).toBe(encodeCursor('int', 'h', 'f', plain));
  expect(decodeCursor(encodeCursor('int', 'h', 'f', set)).completed).toEqual(plain);
});
