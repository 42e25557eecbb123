#!/usr/bin/env node
// Standalone simulator:
//   node dist/test/sim/aws/cli.js --world demo|generated --seed 1 --accounts 1000 --port 4566 \
//        --latency-ms 30 --time-scale 10 --quotas on|off [--ground-truth | --floor] [--settings '<json>']
// Prints the URL and the environment that points an AWS SDK or the AWS CLI at it.
import { parseArgs } from 'node:util';
import { startAwsSimulator, buildWorld } from './index.js';
import { groundTruth, quotaFloor, type IntegrationSettings } from './ground-truth.js';

const { values } = parseArgs({
  options: {
    world: { type: 'string', default: 'demo' },
    seed: { type: 'string', default: '1' },
    accounts: { type: 'string', default: '1000' },
    port: { type: 'string', default: '4566' },
    'latency-ms': { type: 'string', default: '0' },
    'time-scale': { type: 'string', default: '1' },
    quotas: { type: 'string', default: 'on' },
    'ground-truth': { type: 'boolean', default: false },
    floor: { type: 'boolean', default: false },
    'quota-share': { type: 'string', default: '0.5' },
    settings: { type: 'string', default: '{}' },
    help: { type: 'boolean', default: false },
  },
});

if (values.help) {
  process.stdout.write('usage: cli.js --world demo|generated [--seed N --accounts N] [--port 4566] [--latency-ms 0] [--time-scale 1] [--quotas on|off] [--ground-truth|--floor] [--settings JSON]\n');
  process.exit(0);
}

const worldOpt = values.world === 'generated'
  ? { generate: { seed: Number(values.seed), accounts: Number(values.accounts) } }
  : 'demo' as const;
if (values.world !== 'demo' && values.world !== 'generated') {
  process.stderr.write(`unknown world ${values.world}\n`);
  process.exit(2);
}
const settings = JSON.parse(values.settings) as IntegrationSettings;
const timeScale = Number(values['time-scale']);
const latencyMs = Number(values['latency-ms']);

// `cli.js --ground-truth | head` closes the pipe early: that is not an error.
process.stdout.on('error', (e: NodeJS.ErrnoException) => { if (e.code === 'EPIPE') process.exit(0); throw e; });

if (values['ground-truth'] || values.floor) {
  const world = buildWorld(worldOpt);
  if (values['ground-truth']) {
    process.stdout.write(groundTruth(world, settings).entities.map((e) => JSON.stringify(e) + '\n').join(''));
  } else {
    process.stdout.write(JSON.stringify(quotaFloor(world, settings, { timeScale, latencyMs, quotaShare: Number(values['quota-share']) }), null, 2) + '\n');
  }
} else {
  const sim = await startAwsSimulator({ world: worldOpt, port: Number(values.port), latencyMs, timeScale, quotas: values.quotas !== 'off' });
  const lines = [
    `AWS simulator (${sim.world.name}: ${sim.world.accounts.size} accounts) listening on ${sim.url}`,
    `admin API: ${sim.url}/__sim/stats, ${sim.url}/__sim/admin/summary`,
    '',
    ...Object.entries(sim.env).map(([k, v]) => `export ${k}=${v}`),
    `# management role: arn:${sim.world.partition}:iam::${sim.world.organization?.managementAccountId}:role/${sim.world.connector.managementRoleName}  external id: ${sim.world.connector.externalId}`,
  ];
  process.stdout.write(lines.join('\n') + '\n');
  const stop = () => { void sim.close().then(() => process.exit(0)); };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}
