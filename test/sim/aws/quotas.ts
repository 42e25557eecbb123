// Token buckets per account × API family (× region for regional services), with AWS's rates.
// Sources (see docs/simulator.md): aws-facts.md; Identity Center "about 20 TPS per account"
// shared by sso-admin and identitystore; Resource Explorer Search 5 TPS, other ops 3 TPS;
// CloudTrail LookupEvents 2 TPS; STS 600 requests/s per account and region. AWS publishes no
// figure for Organizations ("a few TPS"), IAM or these SSM APIs: the values below are
// conservative stand-ins, settable per family.

export type Family =
  | 'sts' | 'organizations' | 'iam' | 'identitycenter' | 'resource-explorer-search'
  | 'resource-explorer' | 'ssm' | 'cloudtrail-lookup' | 'cloudtrail' | 'dynamodb' | 'ec2';

export const DEFAULT_RATES: Record<Family, number> = {
  sts: 600,
  organizations: 4,
  iam: 20,
  identitycenter: 20,
  'resource-explorer-search': 5,
  'resource-explorer': 3,
  ssm: 20,
  'cloudtrail-lookup': 2,
  cloudtrail: 10,
  dynamodb: 1000,
  // EC2 throttles Describe* calls as "non-mutating actions": a bucket of 100 refilled at 20 per second.
  ec2: 20,
};

/** Global services (one endpoint) are throttled per account; the others per account and region. */
export const GLOBAL_FAMILIES = new Set<Family>(['organizations', 'iam']);

interface Bucket { tokens: number; last: number }

export class Quotas {
  enabled: boolean;
  timeScale: number;
  /**
   * false: buckets keep what is left of their first second's burst and never refill, so a
   * test can count throttles exactly, however long a loaded machine takes to send a burst.
   */
  refill = true;
  readonly rates: Record<Family, number>;
  private readonly buckets = new Map<string, Bucket>();

  constructor(opts: { enabled: boolean; timeScale: number; rates?: Partial<Record<Family, number>> }) {
    this.enabled = opts.enabled;
    this.timeScale = opts.timeScale;
    this.rates = { ...DEFAULT_RATES, ...opts.rates };
  }

  static bucketKey(family: Family, account: string, region: string): string {
    return GLOBAL_FAMILIES.has(family) ? `${family}|${account}` : `${family}|${account}|${region}`;
  }

  /** Take one token; false = throttle. Burst = one second of the (scaled) rate. */
  take(family: Family, account: string, region: string, now: number): boolean {
    if (!this.enabled) return true;
    const rate = this.rates[family] * this.timeScale;
    const burst = Math.max(1, rate);
    const key = Quotas.bucketKey(family, account, region);
    let b = this.buckets.get(key);
    if (!b) this.buckets.set(key, (b = { tokens: burst, last: now }));
    if (this.refill) b.tokens = Math.min(burst, b.tokens + ((now - b.last) / 1000) * rate);
    b.last = now;
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
  }

  reset(): void { this.buckets.clear(); }
}
