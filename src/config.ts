// The only reader of process.env. Settings are declared once in SETTINGS (which also
// generates docs/configuration.md), parsed once into a frozen Config, and a bad value
// stops the process with exit code 78 (EX_CONFIG) and one line naming the variable —
// never the value of a secret.
import { existsSync, readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { parseJobKeys, type JobKey } from './protocol/signature.js';
import { loadPolicyFile, parsePolicyText, type Policy } from './policy/schema.js';
import { EXIT } from './exit-codes.js';

export const EXIT_CONFIG = EXIT.CONFIG;

export interface SettingDoc {
  name: string;
  group: 'Control plane' | 'Jobs' | 'Health and logs' | 'AWS' | 'Access' | 'Policy';
  description: string;
  default?: string;
  /** Secrets are never echoed, in errors or anywhere else. */
  secret?: boolean;
  required?: string;
}

export const SETTINGS: readonly SettingDoc[] = [
  { name: 'CONNECTOR_ID', group: 'Control plane', required: 'yes', description: 'This connector\'s id as registered with the control plane: 1–128 characters of `[A-Za-z0-9._-]`. Replicas of one deployment share it.' },
  { name: 'CONNECTOR_TOKEN', group: 'Control plane', secret: true, required: 'one of the two', description: 'Bearer token for the control plane. Prefer `CONNECTOR_TOKEN_FILE`: a changed value here needs a restart.' },
  { name: 'CONNECTOR_TOKEN_FILE', group: 'Control plane', required: 'one of the two', description: 'Path of a file holding the token, re-read before every connection attempt, so a rotated token is used without a restart.' },
  { name: 'CONTROL_PLANE_URL', group: 'Control plane', required: 'yes', description: '`wss://` address of the control plane. `ws://` is refused unless `ALLOW_INSECURE_CONTROL_PLANE=true` and the host is a loopback address.' },
  { name: 'CONTROL_PLANE_CA_FILE', group: 'Control plane', description: 'PEM file of extra certificate authorities trusted for the control plane, in addition to the system and Node trust stores (for TLS-inspecting proxies or a private CA).' },
  { name: 'CONTROL_PLANE_PINS', group: 'Control plane', description: 'Comma-separated `sha256/<base64>` hashes of public keys (SPKI). When set, a server is refused before any header is sent unless one of them is the key of a certificate on its verified chain (signatures checked from the leaf up to a trusted certificate). List two during a key rotation.' },
  { name: 'CONTROL_PLANE_CLIENT_CERT_FILE', group: 'Control plane', description: 'PEM client certificate for mutual TLS. Requires `CONTROL_PLANE_CLIENT_KEY_FILE`.' },
  { name: 'CONTROL_PLANE_CLIENT_KEY_FILE', group: 'Control plane', secret: true, description: 'PEM private key of the client certificate. Requires `CONTROL_PLANE_CLIENT_CERT_FILE`.' },
  { name: 'ALLOW_INSECURE_CONTROL_PLANE', group: 'Control plane', default: 'false', description: '`true` allows `ws://` to a loopback host. For tests and the demo only.' },
  { name: 'CONTROL_PLANE_JOB_PUBLIC_KEY', group: 'Control plane', description: 'Ed25519 public key(s), SPKI PEM (several blocks allowed), or the path of a file holding them. When set, every job must be signed by one of them (docs/protocol.md, "Signed jobs").' },
  { name: 'HTTPS_PROXY', group: 'Control plane', secret: true, description: 'HTTP proxy (`http://[user:pass@]host:port`) for the outbound HTTPS traffic: the control-plane connection and the AWS API calls (STS for IRSA included), tunnelled with HTTP CONNECT. The container credential endpoints (ECS, EKS Pod Identity) are link-local and never proxied. `https_proxy` is read too. The value may hold a password and is never logged.' },
  { name: 'NO_PROXY', group: 'Control plane', description: 'Comma-separated hosts or domain suffixes (`.example.com`, `*` for all) reached without the proxy, for the control plane and AWS alike: list the AWS hosts served by VPC endpoints (e.g. `sts.eu-west-1.amazonaws.com`). `no_proxy` is read too.' },
  { name: 'MAX_CONCURRENT_JOBS', group: 'Jobs', default: '4', description: 'Jobs that run at once (1–64). As many again may wait in the queue; beyond that jobs are answered `busy`.' },
  { name: 'SHUTDOWN_GRACE_SECONDS', group: 'Jobs', default: '25', description: 'On SIGTERM, how long running jobs may go on before they are cancelled (0–3600). The platform stop timeout must be at least this plus 15 s.' },
  { name: 'HEALTH_PORT', group: 'Health and logs', default: '8080', description: 'Port of `/healthz`, `/readyz` and `/metrics` (0 picks a free port).' },
  { name: 'HEALTH_HOST', group: 'Health and logs', default: '0.0.0.0', description: 'Address the health server binds to.' },
  { name: 'LOG_LEVEL', group: 'Health and logs', default: 'info', description: 'One of `trace`, `debug`, `info`, `warn`, `error`, `fatal`, `silent`.' },
  { name: 'LOG_FORMAT', group: 'Health and logs', default: 'json', description: '`json` (one object per line, for log pipelines) or `pretty` (for a terminal; control, ANSI and bidi characters in any field are printed as `\\n`, `\\u001b`… so text from the control plane or AWS cannot fake a line).' },
  { name: 'NO_COLOR', group: 'Health and logs', description: 'Any non-empty value turns colour and bold off in what the commands print (`doctor`, `sync`, the demo). Without it they are used only when the output is a terminal.' },
  { name: 'AWS_REGION', group: 'AWS', description: 'Region of the connector\'s own AWS calls when a job does not name one (the SDK also reads `AWS_DEFAULT_REGION`).' },
  { name: 'AWS_QUOTA_SHARE', group: 'AWS', default: '0.5', description: 'Share of each AWS API quota the connector may use, per account and API family (0.05–1). The rest stays for the customer\'s own console and automation.' },
  { name: 'AWS_QUOTA_MULTIPLIER', group: 'AWS', default: '1', description: 'Multiplies the AWS API rates the connector assumes (1–1000). Raise it only for accounts whose quotas AWS has raised, or for a simulator running at a time scale; the rest of the time, lower `AWS_QUOTA_SHARE` instead.' },
  { name: 'LEDGER_TABLE', group: 'AWS', description: 'Name (or ARN) of the DynamoDB table of the grant ledger, in the connector\'s own account and region. `doctor` and the `check` job verify it.' },
  { name: 'GRANT_SWEEP_INTERVAL_SECONDS', group: 'Access', default: '60', description: 'Longest time between two looks in the grant ledger for grants past their `expiresAt` (10–3600). A pass also wakes the sweeper for the next expiry it read, and a grant recorded or extended by this replica wakes the sweeper of this replica at its new expiry, so a grant is revoked when it expires, not up to an interval later. Other replicas learn of a new grant at their next pass (at most this interval later); the replica that recorded it is the one on time. The sweep needs no control plane; several replicas may sweep at once.' },
  { name: 'SSO_MAX_OUTSTANDING_ASSIGNMENTS', group: 'Access', default: '10', description: 'Identity Center account-assignment operations (create or delete) this process keeps in flight at once, across all jobs (1–50). AWS limits outstanding operations per instance; keep this at or below that quota minus what other tools use.' },
  { name: 'CONNECTOR_ROLE_NAMES', group: 'Access', description: 'The IAM roles the connector itself runs as or through, as role names or role ARNs, separated by commas: its own role, the management role and the member role. No grant ever edits a role of these names (error `ROLE_PROTECTED`), in any account, whatever the integration sent. The templates and the chart set it; the integration\'s `roleArn` and `memberRoleName` are protected as well. A role name holding a comma cannot be listed.' },
  { name: 'CONNECTOR_POLICY_FILE', group: 'Policy', description: 'Path of the customer\'s policy file (JSON or YAML; docs/policy.md): the veto no job can override. Validated at start-up.' },
  { name: 'JIT_ROLES', group: 'Access', default: 'tagged', description: '`tagged`: grants change the trust policy or inline policies only of IAM roles tagged `access-connector-jit=enabled`, and refuse the others with `ROLE_NOT_OPTED_IN` before any write. `any`: every role but the protected ones. Use the value of the `JitRoles` parameter of the roles stacks (docs/permissions.md).' },
  { name: 'CONNECTOR_POLICY', group: 'Policy', description: 'The policy document itself (JSON or YAML text), instead of a file: for platforms that inject it as an environment variable (the ECS template reads it from an SSM parameter). Same rules and validation as `CONNECTOR_POLICY_FILE`; setting both is an error.' },
];

export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal' | 'silent';

export type TokenSource = { kind: 'env'; value: string } | { kind: 'file'; path: string };

export interface Config {
  connectorId: string;
  controlPlaneUrl: URL;
  token: TokenSource;
  allowInsecure: boolean;
  caPem?: string;
  /** SPKI SHA-256 digests, base64. Empty = no pinning. */
  pins: string[];
  clientCert?: { certPem: string; keyPem: string };
  jobKeys: JobKey[];
  proxy?: URL;
  noProxy: string[];
  maxConcurrentJobs: number;
  shutdownGraceSeconds: number;
  healthPort: number;
  healthHost: string;
  logLevel: LogLevel;
  logFormat: 'json' | 'pretty';
  awsRegion?: string;
  awsQuotaShare: number;
  awsQuotaMultiplier: number;
  ledgerTable?: string;
  /** False when CONTROL_PLANE_URL was not set (only possible outside `run`). */
  controlPlaneConfigured: boolean;
  policyFile?: string;
  policy?: Policy;
  grantSweepIntervalSeconds: number;
  ssoMaxOutstandingAssignments: number;
  /** CONNECTOR_ROLE_NAMES: the connector's own role names, never edited by a grant. */
  connectorRoleNames: string[];
  /** Roles a grant may change: only those opted in with the access-connector-jit tag, or any. */
  jitRoles: 'tagged' | 'any';
}

/** Thrown by loadConfig; `variable` is the setting at fault. The message never holds a secret. */
export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    detail: string,
  ) {
    super(`${variable}: ${detail}`);
    this.name = 'ConfigError';
  }
}

const KNOWN = new Set(SETTINGS.map((s) => s.name));

type Env = Record<string, string | undefined>;

function read(env: Env, name: string): string | undefined {
  if (!KNOWN.has(name)) throw new Error(`config.ts reads ${name}, which SETTINGS does not declare`);
  // The proxy variables are conventionally accepted in lower case too.
  const v = env[name] ?? (name.endsWith('_PROXY') ? env[name.toLowerCase()] : undefined);
  return v === undefined || v.trim() === '' ? undefined : v.trim();
}

function int(env: Env, name: string, def: number, min: number, max: number): number {
  const raw = read(env, name);
  if (raw === undefined) return def;
  if (!/^\d+$/.test(raw) || Number(raw) < min || Number(raw) > max) {
    throw new ConfigError(name, `must be a whole number from ${min} to ${max} (got "${raw.slice(0, 20)}")`);
  }
  return Number(raw);
}

function bool(env: Env, name: string): boolean {
  const raw = read(env, name);
  if (raw === undefined) return false;
  if (!/^(true|false|1|0)$/i.test(raw)) throw new ConfigError(name, `must be true or false (got "${raw.slice(0, 20)}")`);
  return /^(true|1)$/i.test(raw);
}

const ROLE_NAME = /^[\w+=.@-]{1,64}$/;
const ROLE_ARN = /^arn:[a-z-]+:iam::\d{12}:role\/(?:[\w+=.@-]+\/)*([\w+=.@-]{1,64})$/;

/** CONNECTOR_ROLE_NAMES: names or role ARNs (the name is what counts), comma-separated. */
function roleNames(env: Env): string[] {
  const raw = read(env, 'CONNECTOR_ROLE_NAMES');
  if (raw === undefined) return [];
  const names = raw.split(',').map((s) => s.trim()).filter((s) => s !== '').map((entry) => {
    const name = ROLE_NAME.test(entry) ? entry : ROLE_ARN.exec(entry)?.[1];
    if (name === undefined) throw new ConfigError('CONNECTOR_ROLE_NAMES', `each entry must be an IAM role name (1–64 of A-Z a-z 0-9 + = . @ _ -) or a role ARN (got "${entry.slice(0, 80)}")`);
    return name;
  });
  return [...new Set(names)];
}

function readFile(name: string, path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(name, `cannot read the file ${path} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
}

export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '');
  if (h === 'localhost' || h.endsWith('.localhost')) return true;
  if (isIP(h) === 4) return h.startsWith('127.');
  if (isIP(h) === 6) return h === '::1';
  return false;
}

/** Checks a token's shape without ever echoing it. */
export function checkToken(token: string, name: string): string {
  const t = token.trim();
  if (t.length === 0) throw new ConfigError(name, 'is empty');
  if (t.length > 8192) throw new ConfigError(name, 'is longer than 8192 characters');
  if (!/^[\x21-\x7e]+$/.test(t)) throw new ConfigError(name, 'must be printable ASCII without spaces');
  return t;
}

/** Parses the environment. `daemon` settings (id, URL, token) are required only for `run`. */
export function loadConfig(env: Env = process.env, opts: { daemon?: boolean } = { daemon: true }): Config {
  const need = opts.daemon ?? true;

  const connectorId = read(env, 'CONNECTOR_ID') ?? (need ? undefined : 'local');
  if (connectorId === undefined) throw new ConfigError('CONNECTOR_ID', 'is required');
  if (!/^[A-Za-z0-9._-]{1,128}$/.test(connectorId)) {
    throw new ConfigError('CONNECTOR_ID', 'must be 1–128 characters of A-Z a-z 0-9 . _ -');
  }

  const allowInsecure = bool(env, 'ALLOW_INSECURE_CONTROL_PLANE');
  const rawUrl = read(env, 'CONTROL_PLANE_URL') ?? (need ? undefined : 'wss://control-plane.invalid/');
  if (rawUrl === undefined) throw new ConfigError('CONTROL_PLANE_URL', 'is required (wss://host/path)');
  let controlPlaneUrl: URL;
  try {
    controlPlaneUrl = new URL(rawUrl);
  } catch {
    throw new ConfigError('CONTROL_PLANE_URL', 'is not a URL (expected wss://host/path)');
  }
  if (controlPlaneUrl.username || controlPlaneUrl.password) {
    throw new ConfigError('CONTROL_PLANE_URL', 'must not hold credentials; use CONNECTOR_TOKEN_FILE');
  }
  if (controlPlaneUrl.protocol === 'ws:') {
    if (!allowInsecure || !isLoopbackHost(controlPlaneUrl.hostname)) {
      throw new ConfigError(
        'CONTROL_PLANE_URL',
        'ws:// is allowed only with ALLOW_INSECURE_CONTROL_PLANE=true and a loopback host; use wss://',
      );
    }
  } else if (controlPlaneUrl.protocol !== 'wss:') {
    throw new ConfigError('CONTROL_PLANE_URL', `must start with wss:// (got ${controlPlaneUrl.protocol}//)`);
  }

  const tokenValue = read(env, 'CONNECTOR_TOKEN');
  const tokenFile = read(env, 'CONNECTOR_TOKEN_FILE');
  let token: TokenSource;
  if (tokenValue !== undefined && tokenFile !== undefined) {
    throw new ConfigError('CONNECTOR_TOKEN', 'set either CONNECTOR_TOKEN or CONNECTOR_TOKEN_FILE, not both');
  } else if (tokenFile !== undefined) {
    checkToken(readFile('CONNECTOR_TOKEN_FILE', tokenFile), 'CONNECTOR_TOKEN_FILE');
    token = { kind: 'file', path: tokenFile };
  } else if (tokenValue !== undefined) {
    token = { kind: 'env', value: checkToken(tokenValue, 'CONNECTOR_TOKEN') };
  } else if (need) {
    throw new ConfigError('CONNECTOR_TOKEN_FILE', 'is required (or CONNECTOR_TOKEN)');
  } else {
    token = { kind: 'env', value: 'unused' };
  }

  const caFile = read(env, 'CONTROL_PLANE_CA_FILE');
  let caPem: string | undefined;
  if (caFile !== undefined) {
    caPem = readFile('CONTROL_PLANE_CA_FILE', caFile);
    if (!caPem.includes('-----BEGIN CERTIFICATE-----')) {
      throw new ConfigError('CONTROL_PLANE_CA_FILE', `${caFile} holds no PEM certificate`);
    }
  }

  const pins = (read(env, 'CONTROL_PLANE_PINS') ?? '')
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean)
    .map((p) => {
      const m = /^sha256\/([A-Za-z0-9+/]{43}=)$/.exec(p);
      if (!m) throw new ConfigError('CONTROL_PLANE_PINS', 'each pin must be sha256/<44 characters of base64>');
      return m[1]!;
    });

  const certFile = read(env, 'CONTROL_PLANE_CLIENT_CERT_FILE');
  const keyFile = read(env, 'CONTROL_PLANE_CLIENT_KEY_FILE');
  let clientCert: Config['clientCert'];
  if ((certFile === undefined) !== (keyFile === undefined)) {
    throw new ConfigError(
      certFile === undefined ? 'CONTROL_PLANE_CLIENT_CERT_FILE' : 'CONTROL_PLANE_CLIENT_KEY_FILE',
      'CONTROL_PLANE_CLIENT_CERT_FILE and CONTROL_PLANE_CLIENT_KEY_FILE go together',
    );
  }
  if (certFile !== undefined && keyFile !== undefined) {
    clientCert = {
      certPem: readFile('CONTROL_PLANE_CLIENT_CERT_FILE', certFile),
      keyPem: readFile('CONTROL_PLANE_CLIENT_KEY_FILE', keyFile),
    };
  }

  let jobKeys: JobKey[] = [];
  const jobKeyRaw = read(env, 'CONTROL_PLANE_JOB_PUBLIC_KEY');
  if (jobKeyRaw !== undefined) {
    const pem = jobKeyRaw.includes('-----BEGIN') ? jobKeyRaw.replace(/\\n/g, '\n') : readFile('CONTROL_PLANE_JOB_PUBLIC_KEY', jobKeyRaw);
    try {
      jobKeys = parseJobKeys(pem);
    } catch (err) {
      throw new ConfigError('CONTROL_PLANE_JOB_PUBLIC_KEY', `must be Ed25519 public key(s) in SPKI PEM: ${(err as Error).message}`);
    }
  }

  let proxy: URL | undefined;
  const proxyRaw = read(env, 'HTTPS_PROXY');
  if (proxyRaw !== undefined) {
    try {
      proxy = new URL(proxyRaw.includes('://') ? proxyRaw : `http://${proxyRaw}`);
    } catch {
      throw new ConfigError('HTTPS_PROXY', 'is not a URL (expected http://host:port)');
    }
    if (proxy.protocol !== 'http:') throw new ConfigError('HTTPS_PROXY', 'must be an http:// proxy (HTTP CONNECT)');
  }
  const noProxy = (read(env, 'NO_PROXY') ?? '')
    .split(',')
    .map((s) => s.trim().toLowerCase())
    .filter(Boolean);

  const logLevel = (read(env, 'LOG_LEVEL') ?? 'info').toLowerCase();
  if (!['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'].includes(logLevel)) {
    throw new ConfigError('LOG_LEVEL', 'must be one of trace, debug, info, warn, error, fatal, silent');
  }
  const jitRoles = (read(env, 'JIT_ROLES') ?? 'tagged').toLowerCase();
  if (jitRoles !== 'tagged' && jitRoles !== 'any') throw new ConfigError('JIT_ROLES', 'must be tagged or any');
  const logFormat = (read(env, 'LOG_FORMAT') ?? 'json').toLowerCase();
  if (logFormat !== 'json' && logFormat !== 'pretty') throw new ConfigError('LOG_FORMAT', 'must be json or pretty');

  const awsRegion = read(env, 'AWS_REGION');
  if (awsRegion !== undefined && !/^[a-z]{2}(-[a-z]+)+-\d{1,2}$/.test(awsRegion)) {
    throw new ConfigError('AWS_REGION', 'must be a region name such as us-east-1');
  }

  const shareRaw = read(env, 'AWS_QUOTA_SHARE') ?? '0.5';
  const awsQuotaShare = Number(shareRaw);
  if (!/^\d*\.?\d+$/.test(shareRaw) || !(awsQuotaShare >= 0.05 && awsQuotaShare <= 1)) {
    throw new ConfigError('AWS_QUOTA_SHARE', 'must be a number from 0.05 to 1');
  }

  const multRaw = read(env, 'AWS_QUOTA_MULTIPLIER') ?? '1';
  const awsQuotaMultiplier = Number(multRaw);
  if (!/^\d*\.?\d+$/.test(multRaw) || !(awsQuotaMultiplier >= 1 && awsQuotaMultiplier <= 1000)) {
    throw new ConfigError('AWS_QUOTA_MULTIPLIER', 'must be a number from 1 to 1000');
  }

  const ledgerTable = read(env, 'LEDGER_TABLE');
  if (ledgerTable !== undefined && !/^([\w.-]{3,255}|arn:[\w-]+:dynamodb:[a-z0-9-]+:\d{12}:table\/[\w.-]{3,255})$/.test(ledgerTable)) {
    throw new ConfigError('LEDGER_TABLE', 'must be a DynamoDB table name (3–255 of A-Z a-z 0-9 _ . -) or a table ARN');
  }

  const policyFile = read(env, 'CONNECTOR_POLICY_FILE');
  const policyText = read(env, 'CONNECTOR_POLICY');
  let policy: Policy | undefined;
  if (policyText !== undefined) {
    // Two sources would leave the operator guessing which veto applies.
    if (policyFile !== undefined) throw new ConfigError('CONNECTOR_POLICY', 'is set together with CONNECTOR_POLICY_FILE; give the policy one way only');
    try {
      // ConfigError names the variable; the parser names the document and each problem's place.
      policy = parsePolicyText(policyText, 'document');
    } catch (err) {
      throw new ConfigError('CONNECTOR_POLICY', (err as Error).message);
    }
  } else if (policyFile !== undefined) {
    if (!existsSync(policyFile)) throw new ConfigError('CONNECTOR_POLICY_FILE', `no file at ${policyFile}`);
    try {
      policy = loadPolicyFile(policyFile);
    } catch (err) {
      throw new ConfigError('CONNECTOR_POLICY_FILE', (err as Error).message);
    }
  }

  const config: Config = {
    connectorId,
    controlPlaneUrl,
    token,
    allowInsecure,
    pins,
    jobKeys,
    noProxy,
    maxConcurrentJobs: int(env, 'MAX_CONCURRENT_JOBS', 4, 1, 64),
    shutdownGraceSeconds: int(env, 'SHUTDOWN_GRACE_SECONDS', 25, 0, 3600),
    healthPort: int(env, 'HEALTH_PORT', 8080, 0, 65535),
    healthHost: read(env, 'HEALTH_HOST') ?? '0.0.0.0',
    logLevel: logLevel as LogLevel,
    logFormat,
    awsQuotaShare,
    awsQuotaMultiplier,
    controlPlaneConfigured: read(env, 'CONTROL_PLANE_URL') !== undefined,
    grantSweepIntervalSeconds: int(env, 'GRANT_SWEEP_INTERVAL_SECONDS', 60, 10, 3600),
    ssoMaxOutstandingAssignments: int(env, 'SSO_MAX_OUTSTANDING_ASSIGNMENTS', 10, 1, 50),
    connectorRoleNames: roleNames(env),
    jitRoles,
    ...(ledgerTable !== undefined && { ledgerTable }),
    ...(caPem !== undefined && { caPem }),
    ...(clientCert !== undefined && { clientCert }),
    ...(proxy !== undefined && { proxy }),
    ...(awsRegion !== undefined && { awsRegion }),
    ...(policyFile !== undefined && { policyFile }),
    ...(policy !== undefined && { policy }),
  };
  return Object.freeze(config);
}

/** Reads the current token (the file is re-read on every call: rotation without restart). */
/** Colour and bold: only on a terminal, and never when NO_COLOR is set (no-color.org). */
export function colorWanted(isTTY: boolean | undefined, env: Env = process.env): boolean {
  return isTTY === true && read(env, 'NO_COLOR') === undefined;
}

export function readToken(source: TokenSource): string {
  if (source.kind === 'env') return source.value;
  return checkToken(readFileSync(source.path, 'utf8'), 'CONNECTOR_TOKEN_FILE');
}

/** Every secret value the configuration holds, for the log scrubber. */
export function secretValues(config: Config): string[] {
  const out: string[] = [];
  if (config.token.kind === 'env') out.push(config.token.value);
  if (config.proxy?.password) out.push(decodeURIComponent(config.proxy.password), config.proxy.password);
  if (config.proxy?.username && config.proxy.password) out.push(config.proxy.href);
  if (config.clientCert) out.push(config.clientCert.keyPem.trim());
  return out.filter((s) => s.length >= 4);
}
