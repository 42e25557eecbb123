// The entity sources a sync runs, in unit order. Adding a source: one file in sources/
// and one line here (see CONTRIBUTING.md).
import type { EntitySource } from './types.js';
import { organizationSource } from './sources/organization.js';

export const SOURCES: readonly EntitySource[] = [organizationSource];
