// CloudTrail (awsJson1_1): LookupEvents over the events the simulator recorded for every
// mutating call it served (and AssumeRole, logged in the role's account), newest first.
import { SimError } from '../errors.js';
import type { ServiceDef } from '../service.js';
import { num, paginate, str } from '../util.js';

const KEYS = new Set(['EventId', 'EventName', 'ReadOnly', 'Username', 'ResourceType', 'ResourceName', 'EventSource', 'AccessKeyId']);

export const cloudTrailService: ServiceDef = {
  name: 'cloudtrail',
  protocol: 'json1.1',
  iamPrefix: 'cloudtrail',
  eventSource: 'cloudtrail.amazonaws.com',
  family: (op) => (op === 'LookupEvents' ? 'cloudtrail-lookup' : 'cloudtrail'),
  mutating: new Set(),
  ops: {
    LookupEvents: (ctx) => {
      const attrs = (ctx.input.LookupAttributes as { AttributeKey: string; AttributeValue: string }[] | undefined) ?? [];
      if (attrs.length > 1) throw new SimError('InvalidLookupAttributesException', 'You cannot specify more than one lookup attribute.', 400);
      const a = attrs[0];
      if (a && !KEYS.has(a.AttributeKey)) throw new SimError('InvalidLookupAttributesException', `Invalid attribute key ${a.AttributeKey}`, 400);
      const start = num(ctx.input.StartTime);
      const end = num(ctx.input.EndTime);
      if (start !== undefined && end !== undefined && start > end) throw new SimError('InvalidTimeRangeException', 'Start time must be before end time.', 400);
      const events = ctx.account.trail.filter((e) => {
        if (e.region !== ctx.region) return false;
        if (start !== undefined && e.EventTime < start * 1000) return false;
        if (end !== undefined && e.EventTime > end * 1000) return false;
        if (!a) return true;
        switch (a.AttributeKey) {
          case 'ResourceName': return e.Resources.some((r) => r.ResourceName === a.AttributeValue);
          case 'ResourceType': return e.Resources.some((r) => r.ResourceType === a.AttributeValue);
          default: return (e as unknown as Record<string, unknown>)[a.AttributeKey] === a.AttributeValue;
        }
      }).sort((x, y) => y.EventTime - x.EventTime);
      const max = num(ctx.input.MaxResults);
      if (max !== undefined && (max < 1 || max > 50)) throw new SimError('InvalidMaxResultsException', 'MaxResults must be between 1 and 50.', 400);
      const p = paginate(events, {
        max, token: str(ctx.input.NextToken), cap: 50, scope: `${ctx.account.id}|${ctx.region}|${JSON.stringify(attrs)}|${start}|${end}`,
        invalidToken: () => new SimError('InvalidNextTokenException', 'The NextToken is not valid.', 400),
      });
      return { Events: p.items.map((e) => ({
        EventId: e.EventId, EventName: e.EventName, ReadOnly: e.ReadOnly, AccessKeyId: e.AccessKeyId, EventTime: new Date(e.EventTime),
        EventSource: e.EventSource, Username: e.Username, Resources: e.Resources,
        CloudTrailEvent: JSON.stringify({ eventVersion: '1.08', eventID: e.EventId, eventName: e.EventName, eventSource: e.EventSource, eventTime: new Date(e.EventTime).toISOString(), awsRegion: e.region, ...e.detail }),
      })), NextToken: p.next };
    },
  },
};
