import { isPowernodeError } from '@powernode/contracts';
import { CommandSyntaxError, splitArgv } from './index.js';

describe('splitArgv', () => {
  test.each([
    ['systemctl start redis-server', ['systemctl', 'start', 'redis-server']],
    ['  systemctl\tstart   a b  ', ['systemctl', 'start', 'a', 'b']],
    ['', []],
    ['   ', []],
    ['echo \'a b\' "c d"', ['echo', 'a b', 'c d']],
    ["echo 'it''s'", ['echo', 'its']],
    ['echo "it\'s"', ['echo', "it's"]],
    ["echo ''", ['echo', '']],
    ['echo ""', ['echo', '']],
    ['echo a\\ b', ['echo', 'a b']],
    ['echo "a \\"quoted\\" word"', ['echo', 'a "quoted" word']],
    ['echo "back\\\\slash" "\\n stays"', ['echo', 'back\\slash', '\\n stays']],
    ['echo "\\$HOME"', ['echo', '$HOME']],
    ["echo '$HOME | ; && > `x`'", ['echo', '$HOME | ; && > `x`']],
    ['redis-server --port=6379 /etc/redis/redis.conf', ['redis-server', '--port=6379', '/etc/redis/redis.conf']],
    ['systemctl stop foo@*.service', ['systemctl', 'stop', 'foo@*.service']],
    ['printf 100$', ['printf', '100$']],
    ['echo a#b', ['echo', 'a#b']],
    ["sh -c 'exit 0'", ['sh', '-c', 'exit 0']],
    ['run "a"\'b\'c', ['run', 'abc']],
  ])('%j → %j', (command, argv) => {
    expect(splitArgv(command)).toEqual(argv);
  });

  test.each([
    ["systemctl 'stop", /single quote that is never closed/, 10],
    ['echo "abc', /double quote that is never closed/, 5],
    ['a | b', /pipe/, 2],
    ['a && b', /"&&"/, 2],
    ['a & ', /"&&"/, 2],
    ['a; b', /separator/, 1],
    ['a > /tmp/x', /redirection ">"/, 2],
    ['a < /tmp/x', /redirection "<"/, 2],
    ['a 2>&1', /redirection ">"/, 3],
    ['echo $(id)', /"\$" expansion/, 5],
    ['echo ${HOME}', /"\$" expansion/, 5],
    ['echo $HOME', /"\$" expansion/, 5],
    ['echo "$HOME"', /inside double quotes/, 6],
    ['echo `id`', /command substitution/, 5],
    ['echo "`id`"', /command substitution/, 6],
    ['(a)', /subshell/, 0],
    ['echo # comment', /comment/, 5],
    ['cat ~/x', /home-directory/, 4],
    ['FOO=bar run', /environment assignment "FOO=…"/, 0],
    ['run\nother', /line break/, 3],
    ['run \\', /trailing backslash/, 4],
    ['run \\\nnext', /line continuation/, 4],
  ])('refuses %j', (command, reason, offset) => {
    let caught: unknown;
    try {
      splitArgv(command);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(CommandSyntaxError);
    const error = caught as CommandSyntaxError;
    expect(error.reason).toMatch(reason);
    expect(error.offset).toBe(offset);
    expect(error.message).toContain(`at character ${offset + 1}`);
    expect(isPowernodeError(error) && error.code).toBe('validation_failed');
  });

  test('an assignment is only refused in command position', () => {
    expect(splitArgv('env FOO=bar run')).toEqual(['env', 'FOO=bar', 'run']);
  });
});
