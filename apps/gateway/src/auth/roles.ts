import { PowernodeError } from '@powernode/contracts';

export const ROLES = ['viewer', 'operator', 'approver', 'admin'] as const;
export type Role = (typeof ROLES)[number];

/** What a request needs: read state, change it, approve a live promotion, or administer tokens and deletes. */
export type Permission = 'read' | 'change' | 'approve' | 'admin';

const GRANTS: Record<Role, readonly Permission[]> = {
  viewer: ['read'],
  operator: ['read', 'change'],
  approver: ['read', 'approve'],
  admin: ['read', 'change', 'approve', 'admin'],
};

/** The authenticated caller of a request. */
export interface Principal {
  id: string;
  name: string;
  role: Role;
}

/** True when the role carries the permission. */
export function roleAllows(role: Role, permission: Permission): boolean {
  return GRANTS[role].includes(permission);
}

/** Throws `forbidden` naming the permission and the roles that carry it. */
export function requirePermission(principal: Principal, permission: Permission): void {
  if (roleAllows(principal.role, permission)) return;
  const roles = ROLES.filter((r) => roleAllows(r, permission));
  throw new PowernodeError(
    'forbidden',
    `token "${principal.name}" has role ${principal.role}; this needs the ${permission} permission (roles: ${roles.join(', ')})`,
    {
      details: { role: principal.role, needs: permission, roles_allowed: roles },
    },
  );
}
