// Packet I/O between the kernel and the data plane's shared memory: TUN device, ESP-in-UDP socket.
export { Tun, type TunOptions, type TunStats, type TunHandle } from "./tun.js";
export { UdpSocket, type UdpOptions, type UdpStats, type Destination } from "./udp.js";
export { SockAddr, formatIp, type IpVersion } from "./sockaddr.js";
export { Wakeup, type WakeupHandle } from "./wakeup.js";
export { withNetns } from "./netns.js";
export { SysError } from "./libc.js";
