// What a build reports about the package files that lost their set-id bits: validation-report warnings, one a file.
import { formatValidationReport } from '@powernode/manifest';
import { setIdStrippedIssues } from '../src/commands/module-package-build.js';

describe('set-id bits stripped from package files', () => {
  test('each file is a set_id_stripped warning on package_spec that says where it came from and how to keep the bit', () => {
    const issues = setIdStrippedIssues([
      { path: '/usr/bin/chfn', mode: 0o4755, package: 'passwd' },
      { path: '/usr/local/bin/planted', mode: 0o2755 },
    ]);
    expect(issues).toEqual([
      {
        code: 'set_id_stripped',
        path: 'package_spec',
        file: '/usr/bin/chfn',
        message:
          '/usr/bin/chfn (mode 4755) loses its setuid/setgid bits: it comes from package passwd, which package_spec does not list; list passwd in package_spec to keep them',
      },
      {
        code: 'set_id_stripped',
        path: 'package_spec',
        file: '/usr/local/bin/planted',
        message:
          '/usr/local/bin/planted (mode 2755) loses its setuid/setgid bits: no package installed it (a maintainer script or nothing dpkg knows); it cannot keep them',
      },
    ]);
    expect(formatValidationReport({ valid: true, errors: [], warnings: issues }, { file: 'mod/manifest.yaml' }).split('\n')).toEqual([
      'mod/manifest.yaml warning package_spec: /usr/bin/chfn (mode 4755) loses its setuid/setgid bits: it comes from package passwd, which package_spec does not list; list passwd in package_spec to keep them',
      'mod/manifest.yaml warning package_spec: /usr/local/bin/planted (mode 2755) loses its setuid/setgid bits: no package installed it (a maintainer script or nothing dpkg knows); it cannot keep them',
      'mod/manifest.yaml: valid, 2 warnings',
      '',
    ]);
  });
});
