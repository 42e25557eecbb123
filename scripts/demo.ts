// The demo: the real connector process against the bundled reference control plane, all
// on loopback. It shows the connection, a job round trip, the health endpoints and a
// clean drain. Run with: scripts/dev npm run demo
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { ReferenceControlPlane } from '../test/sim/control-plane/server.js';
import { startAwsSimulator } from '../test/sim/aws/index.js';
import { demoIntegration } from '../test/sim/aws/worlds/demo.js';
import { renderReport, type CheckReport } from '../src/check/report.js';
import { MAIN_JS, REPO_ROOT } from '../test/helpers/paths.js';
import { colorWanted } from '../src/config.js';

// Bold headings only on a terminal, and never with NO_COLOR.
const color = colorWanted(process.stdout.isTTY);
const say = (s: string) => process.stdout.write(color ? `\n\x1b[1m== ${s}\x1b[0m\n` : `\n== ${s}\n`);

/** Copies a child's output line by line, marked as the connector's. */
function prefixLines(from: NodeJS.ReadableStream, to: NodeJS.WritableStream): void {
  let rest = '';
  from.on('data', (d: Buffer) => {
    const lines = (rest + d.toString()).split('\n');
    rest = lines.pop() ?? '';
    for (const l of lines) to.write(`  [connector] ${l}\n`);
  });
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'access-connector-demo-'));
  const tokenFile = join(dir, 'token');
  writeFileSync(tokenFile, 'demo-token\n', { mode: 0o600 });

  say('starting the AWS simulator (demo organization) on loopback');
  // AWS's quotas and a 30 ms latency, time-scaled 10× so the demo is quick; the connector
  // is told the same scale (AWS_QUOTA_MULTIPLIER).
  const sim = await startAwsSimulator({ world: 'demo', quotas: true, latencyMs: 30, timeScale: 10 });
  console.log(`AWS simulator at ${sim.url}, AWS quotas at 10× speed`);
  const world = [...sim.world.accounts.values()];
  const inOrg = world.filter((a) => a.inOrg);
  const mgmt = sim.world.organization!.managementAccountId;
  const suspended = inOrg.filter((a) => a.state !== 'ACTIVE');
  const outside = world.filter((a) => !a.inOrg);
  console.log(`its world: ${world.length} AWS accounts. ${inOrg.length} are in the organization: the management account ${mgmt}, ` +
    `${inOrg.length - 1 - suspended.length} active members and ${suspended.length} suspended (${suspended.map((a) => `${a.id} ${a.name}`).join(', ')}). ` +
    `${outside.length} is outside it: ${outside.map((a) => `${a.id} ${a.name}`).join(', ')}, where the connector runs.`);

  say('starting the reference control plane on loopback');
  const cp = await ReferenceControlPlane.start({ tokens: ['demo-token'], heartbeatSeconds: 20 });
  console.log(`control plane listening at ${cp.url}`);

  say('starting access-connector (LOG_FORMAT=pretty)');
  const healthPort = 18080 + Math.floor(Math.random() * 1000);
  const child = spawn(process.execPath, [MAIN_JS, 'run'], {
    env: {
      PATH: process.env['PATH'] ?? '',
      ...sim.env,
      LEDGER_TABLE: 'access-connector-ledger',
      AWS_QUOTA_MULTIPLIER: '10',
      CONNECTOR_ID: 'demo-connector',
      CONTROL_PLANE_URL: cp.url,
      ALLOW_INSECURE_CONTROL_PLANE: 'true',
      CONNECTOR_TOKEN_FILE: tokenFile,
      HEALTH_PORT: String(healthPort),
      HEALTH_HOST: '127.0.0.1',
      LOG_FORMAT: 'pretty',
      SHUTDOWN_GRACE_SECONDS: '5',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  prefixLines(child.stdout, process.stdout);
  prefixLines(child.stderr, process.stderr);
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));

  const session = await cp.waitForSession(15_000);
  say(`connector ${session.connectorId} connected (session ${session.sessionId})`);
  console.log(`hello: version ${session.hello.version}, job types [${session.hello.capabilities.jobTypes.join(', ')}], maxConcurrentJobs ${session.hello.maxConcurrentJobs}`);

  const ready = await fetch(`http://127.0.0.1:${healthPort}/readyz`);
  console.log(`GET /readyz → ${ready.status} ${await ready.text()}`.trim());

  say('control plane sends a `check` job for the demo organization');
  const integration = demoIntegration({ ssoPortalUrl: 'https://d-1234567890.awsapps.com/start' });
  const { jobId } = cp.sendJob({ jobType: 'check', integration });
  const result = await cp.waitForResult(jobId, 60_000);
  console.log(`job.result: ${result.status}, stats ${JSON.stringify(result.stats)}`);
  if (result.output) process.stdout.write(renderReport(result.output as CheckReport, color));

  say('control plane sends a full `sync` of the demo organization');
  const sync = cp.sendJob({ jobType: 'sync', integration: { ...integration, resourceOwnerTagKey: 'owner' }, params: { mode: 'full' } });
  const synced = await cp.waitForResult(sync.jobId, 120_000);
  const out = (synced.output ?? {}) as { counts?: Record<string, number>; coverage?: Array<{ accountId: string; status: string }>; errors?: unknown[] };
  const batches = cp.job(sync.jobId)?.batches.size ?? 0;
  console.log(`job.result: ${synced.status} in ${String(synced.stats['durationMs'])} ms, ${batches} batches, ${String(synced.stats['awsCalls'])} AWS calls`);
  for (const [kind, n] of Object.entries(out.counts ?? {})) console.log(`  ${kind.padEnd(24)} ${n}`);
  console.log(`coverage: ${out.coverage?.length ?? 0} units, ${(out.coverage ?? []).filter((c) => c.status !== 'complete').length} not complete; errors: ${out.errors?.length ?? 0}`);
  // Which accounts those figures cover, and which they leave out and why.
  const entered = new Set((out.coverage ?? []).map((c) => c.accountId));
  const exclusions = [...(integration as { excludeAccountIds?: string[] }).excludeAccountIds ?? [], ...(integration as { excludeOrganizationalUnitIds?: string[] }).excludeOrganizationalUnitIds ?? []];
  const notRead = inOrg.filter((a) => !entered.has(a.id)).map((a) => `${a.id} (${a.state === 'ACTIVE' ? 'excluded by the integration' : a.state.toLowerCase()})`);
  console.log(`accounts read: ${entered.size} of the ${inOrg.length} in the organization, the management account ${mgmt} included; ` +
    `aws.account lists all ${inOrg.length}. Not read: ${notRead.join(', ') || 'none'}. ` +
    `Excluded by the integration (excludeAccountIds, excludeOrganizationalUnitIds): ${exclusions.join(', ') || 'none'}. ` +
    `${outside.map((a) => a.id).join(', ')} is outside the organization, so no sync reads it.`);

  say('control plane grants erin (Developers) the ReadOnly permission set in 333333333301 for 1 hour');
  const sso = sim.world.sso!;
  const erin = [...sso.users.values()].find((u) => u.UserName === 'erin@example.com')!;
  const readOnly = [...sso.permissionSets.values()].find((p) => p.name === 'ReadOnly')!;
  const access = {
    grantId: 'demo-grant-1',
    accessKind: 'sso.accountAssignment',
    principal: { type: 'user', id: erin.UserId, userName: erin.UserName },
    target: { accountId: '333333333301', permissionSetArn: readOnly.arn },
    expiresAt: new Date(Date.now() + 3600_000).toISOString(),
  };
  const assignment = { accountId: '333333333301', permissionSetArn: readOnly.arn, principalType: 'USER' as const, principalId: erin.UserId };
  const granted = await cp.waitForResult(cp.sendJob({ jobType: 'grant', integration, params: access }).jobId, 60_000);
  console.log(`job.result: ${granted.status}; AWS has the assignment: ${sim.admin.hasAssignment(assignment)}`);
  console.log(`output: ${JSON.stringify(granted.output, null, 2).replace(/\n/g, '\n  ')}`);
  const again = await cp.waitForResult(cp.sendJob({ jobType: 'grant', integration, params: access }).jobId, 60_000);
  console.log(`the same grant again (a retried job, same grantId): ${again.status}, note: ${String((again.output as { note?: string } | undefined)?.note)}`);

  say('control plane revokes it');
  const revoked = await cp.waitForResult(cp.sendJob({ jobType: 'revoke', integration, params: access }).jobId, 60_000);
  console.log(`job.result: ${revoked.status}, state ${String((revoked.output as { state?: string } | undefined)?.state)}; AWS has the assignment: ${sim.admin.hasAssignment(assignment)}`);
  const ledgerItems = sim.admin.ddbItems({ accountId: '999999999999', region: 'us-east-1', table: 'access-connector-ledger' }) as Array<Record<string, { S?: string }>>;
  console.log(`grant ledger: ${ledgerItems.filter((i) => i['sk']?.S?.startsWith('event#')).map((i) => i['event']?.S).join(' → ')}`);

  const metrics = await (await fetch(`http://127.0.0.1:${healthPort}/metrics`)).text();
  say('a few metrics');
  for (const line of metrics.split('\n')) {
    if (/^access_connector_(connection_state\{state="ready"\}|jobs_received_total|frames_total|outbox_depth)/.test(line)) console.log(`  ${line}`);
  }

  say('SIGTERM: the connector drains and exits');
  child.kill('SIGTERM');
  const code = await exited;
  console.log(`connector exited with code ${code}`);
  console.log(`frames received by the control plane: ${cp.unique().length} (duplicates: ${cp.duplicates()}), protocol violations: ${cp.violations.length}`);
  await cp.close();
  await sim.close();
  if (code !== 0 || cp.violations.length > 0 || [result, synced, granted, revoked].some((r) => r.status !== 'succeeded')) process.exit(1);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
