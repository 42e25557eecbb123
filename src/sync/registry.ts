// The entity sources a sync runs, in unit order. Adding a source: one file in sources/
// and one line here (see CONTRIBUTING.md).
import type { EntitySource } from './types.js';
import { organizationSource } from './sources/organization.js';
import { iamSource } from './sources/iam.js';
import { ssoSource } from './sources/sso.js';
import { ssoAssignmentsSource } from './sources/sso-assignments.js';
import { ec2Source } from './sources/ec2.js';
import { resourcesSource } from './sources/resources.js';

// Identity Center first: its directory unit is the longest chain on the one shared
// Identity Center quota, so it should start while per-account units fill the rest.
export const SOURCES: readonly EntitySource[] = [organizationSource, ssoSource, resourcesSource, iamSource, ssoAssignmentsSource, ec2Source];
