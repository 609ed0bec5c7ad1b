/**
 * The explicit command map oclif loads (package.json `oclif.commands`).
 * One file per command in ./commands; register new commands here.
 */
import Version from './commands/version.ts';
import Init from './commands/init.ts';
import Boot from './commands/boot.ts';
import Build from './commands/build.ts';
import Push from './commands/push.ts';
import Pull from './commands/pull.ts';
import Inspect from './commands/inspect.ts';
import Login from './commands/login.ts';
import Logout from './commands/logout.ts';
import KernelBuild from './commands/kernel-build.ts';
import KernelLs from './commands/kernel-ls.ts';
import Export from './commands/export.ts';
import Run from './commands/run.ts';
import Ps from './commands/ps.ts';
import Logs from './commands/logs.ts';
import Wait from './commands/wait.ts';
import Stop from './commands/stop.ts';
import Kill from './commands/kill.ts';
import Rm from './commands/rm.ts';
import Exec from './commands/exec.ts';
import CachePrune from './commands/cache-prune.ts';

export const COMMANDS = {
  version: Version,
  init: Init,
  boot: Boot,
  build: Build,
  push: Push,
  pull: Pull,
  inspect: Inspect,
  login: Login,
  logout: Logout,
  'kernel:build': KernelBuild,
  'kernel:ls': KernelLs,
  export: Export,
  run: Run,
  ps: Ps,
  logs: Logs,
  wait: Wait,
  stop: Stop,
  kill: Kill,
  rm: Rm,
  exec: Exec,
  'cache:prune': CachePrune,
};
