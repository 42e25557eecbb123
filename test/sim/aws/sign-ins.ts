// IAM Identity Center sign-ins as CloudTrail logs them (AWS IAM Identity Center User Guide,
// "Understanding IAM Identity Center sign-in events" and "Username in sign-in CloudTrail
// events"; CloudTrail User Guide, "userIdentity", the onBehalfOf example): in the management
// account, in the Identity Center region, event source signin.amazonaws.com. Identity
// Center's own directory (and AD) log a CredentialChallenge and a CredentialVerification per
// factor, then UserAuthentication once the user is signed in; an external IdP logs only
// UserAuthentication (CredentialType EXTERNAL_IDP, with the SAML NameID as UserName). The
// user is named by userIdentity.onBehalfOf (userId, identityStoreArn).
import type { SsoInstance, SsoUser, TrailEvent, World } from './world.js';
import { uuid } from './util.js';

export function identityStoreArn(w: World, sso: SsoInstance): string {
  return `arn:${w.partition}:identitystore::${sso.ownerAccountId}:identitystore/${sso.identityStoreId}`;
}

/** The trail events of one successful sign-in of `u` at `at` (epoch ms). */
export function signInEvents(w: World, sso: SsoInstance, u: SsoUser, at: number): TrailEvent[] {
  const external = sso.identitySource === 'EXTERNAL_IDP';
  const flow = uuid();
  const identity = {
    type: 'Unknown', principalId: u.UserId, accountId: sso.ownerAccountId, accessKeyId: '', userName: u.UserName,
    onBehalfOf: { userId: u.UserId, identityStoreArn: identityStoreArn(w, sso) },
    credentialId: uuid(),
  };
  const event = (name: string, dt: number, extra: Record<string, unknown>): TrailEvent => ({
    EventId: uuid(), EventName: name, EventSource: 'signin.amazonaws.com', EventTime: at + dt, Username: u.UserName,
    AccessKeyId: '', ReadOnly: 'false', Resources: [], region: sso.region,
    detail: {
      userIdentity: identity, eventType: 'AwsServiceEvent', sourceIPAddress: '203.0.113.10', userAgent: 'Mozilla/5.0',
      requestParameters: null, responseElements: null, recipientAccountId: sso.ownerAccountId, ...extra,
    },
  });
  const auth = event('UserAuthentication', 0, {
    additionalEventData: { AuthWorkflowID: flow, CredentialType: external ? 'EXTERNAL_IDP' : 'PASSWORD', ...(external ? { UserName: u.UserName } : {}) },
    serviceEventDetails: { UserAuthentication: 'Success' },
  });
  if (external) return [auth];
  return [
    event('CredentialChallenge', -20_000, { additionalEventData: { AuthWorkflowID: flow, CredentialType: 'PASSWORD', UserName: u.UserName }, serviceEventDetails: { CredentialChallenge: 'Success' } }),
    event('CredentialVerification', -10_000, { additionalEventData: { AuthWorkflowID: flow, CredentialType: 'PASSWORD' }, serviceEventDetails: { CredentialVerification: 'Success' } }),
    auth,
  ];
}

/**
 * Writes the world's sign-ins (given as ages, so a world stays the same whenever it is built)
 * into the management account's trail, relative to `now`, and forgets them: a world served
 * twice does not log them twice.
 */
export function logSignIns(w: World, now: number): void {
  const sso = w.sso;
  const owner = sso && w.accounts.get(sso.ownerAccountId);
  if (!sso?.signIns || !owner) return;
  for (const s of sso.signIns) {
    const u = sso.users.get(s.userId);
    if (u) owner.trail.push(...signInEvents(w, sso, u, now - s.agoMs));
  }
  delete sso.signIns;
}

/** Newest UserAuthentication per user id in the trail at or after `since` (what a sync should report). */
export function lastSignIns(w: World, since: number): Map<string, number> {
  const out = new Map<string, number>();
  const sso = w.sso;
  const owner = sso && w.accounts.get(sso.ownerAccountId);
  if (!sso || !owner) return out;
  for (const e of owner.trail) {
    if (e.EventName !== 'UserAuthentication' || e.EventSource !== 'signin.amazonaws.com' || e.region !== sso.region || e.EventTime < since) continue;
    const id = ((e.detail['userIdentity'] as { onBehalfOf?: { userId?: string } } | undefined)?.onBehalfOf?.userId);
    if (id && (out.get(id) ?? -Infinity) < e.EventTime) out.set(id, e.EventTime);
  }
  return out;
}
