import { packagesAddedTo, parseDpkgStatus } from './dpkg-status.js';

const STATUS = `Package: redis-server
Status: install ok installed
Priority: optional
Architecture: amd64
Version: 5:7.0.15-1~deb12u1
Description: Persistent key-value database
 with network interface

Package: removed-tool
Status: deinstall ok config-files
Architecture: amd64
Version: 1.0

Package: tzdata
Status: install ok installed
Architecture: all
Version: 2024a-0+deb12u1
`;

describe('dpkg status', () => {
  it('lists the installed packages only, sorted, with version and architecture', () => {
    expect(parseDpkgStatus(STATUS)).toEqual([
      { name: 'redis-server', version: '5:7.0.15-1~deb12u1', architecture: 'amd64' },
      { name: 'tzdata', version: '2024a-0+deb12u1', architecture: 'all' },
    ]);
  });

  it('attributes to a layer the packages that are new or of another version than in the base', () => {
    const base = [
      { name: 'tzdata', version: '2024a-0+deb12u1', architecture: 'all' },
      { name: 'libc6', version: '2.36-9', architecture: 'amd64' },
    ];
    const layer = [
      ...base.slice(0, 1),
      { name: 'libc6', version: '2.36-9+deb12u1', architecture: 'amd64' },
      { name: 'redis-server', version: '5:7.0.15', architecture: 'amd64' },
    ];
    expect(packagesAddedTo(base, layer).map((pkg) => `${pkg.name}=${pkg.version}`)).toEqual(['libc6=2.36-9+deb12u1', 'redis-server=5:7.0.15']);
  });
});
