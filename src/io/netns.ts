// Run synchronous code inside a named network namespace (`ip netns add NAME`): setns() switches only the
// calling thread, so sockets and TUN devices created in `fn` belong to that namespace and stay there,
// usable from any thread, after this thread switches back.
import { sys, C, check, SysError, errno } from "./libc.js";

export function withNetns<T>(name: string, fn: () => T): T {
  const path = name.includes("/") ? name : `/run/netns/${name}`;
  const home = check("open(/proc/thread-self/ns/net)", sys.open("/proc/thread-self/ns/net", C.O_RDONLY | C.O_CLOEXEC));
  try {
    const target = check(`open(${path})`, sys.open(path, C.O_RDONLY | C.O_CLOEXEC));
    try {
      check(`setns(${name})`, sys.setns(target, C.CLONE_NEWNET));
    } finally {
      sys.close(target);
    }
    try {
      return fn();
    } finally {
      if (sys.setns(home, C.CLONE_NEWNET) < 0) {
        // The thread would go on in the wrong namespace: nothing it does from here on can be trusted.
        throw new SysError(`setns(back from ${name})`, errno());
      }
    }
  } finally {
    sys.close(home);
  }
}
