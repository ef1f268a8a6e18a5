/* Issue 13 §2.5: another local process sends to a UDP relay first.
 *   udp_hijack WEB_IP ECHO_IP UECHO_IP TARGET_IP   (net_run.sh's arguments)
 * A UDP socket connected to the target's UDP echo (UECHO_IP:7001) gets a
 * loopback relay in the proxy.  An "attacker" socket of this host (not
 * going through the layer: it sends to 127.0.0.1) finds the relay's port
 * and sends to it before the program does.  The attacker must get nothing
 * back from the target, and the program's own datagram must be echoed.
 * Before the fix the relay took the first sender as its peer: the target
 * echoed the attacker's datagram to the attacker, and the program's own
 * datagrams were dropped. */
#include "rawsys.h"
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>


static int recv_wait(int fd, char *buf, size_t n, int ms)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    if (poll(&p, 1, ms) <= 0)
        return -1;
    return (int)recv(fd, buf, n, MSG_DONTWAIT);
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: udp_hijack WEB ECHO UECHO [TARGET]\n");
        return 2;
    }
    struct sockaddr_in ue = {.sin_family = AF_INET, .sin_port = htons(7001)};
    inet_pton(AF_INET, argv[3], &ue.sin_addr);
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&ue, sizeof(ue)) < 0) {
        perror("connect to the UDP echo");
        return 2;
    }
    struct sockaddr_in relay;
    socklen_t rl = sizeof(relay);
    /* the kernel's answer, not the layer's: getpeername is hooked */
    if (raw_syscall3(SYS_getpeername, fd, (long)&relay, (long)&rl) < 0 ||
        relay.sin_addr.s_addr != htonl(INADDR_LOOPBACK)) {
        fprintf(stderr, "the socket is not relayed through the proxy\n");
        return 2;
    }
    int atk = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in any = {.sin_family = AF_INET,
                              .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    bind(atk, (struct sockaddr *)&any, sizeof(any));
    if (sendto(atk, "evil", 4, 0, (struct sockaddr *)&relay, sizeof(relay)) != 4) {
        perror("attacker sendto");
        return 2;
    }
    usleep(200000);
    int bad = 0;
    char buf[64];
    if (send(fd, "udp-own", 7, 0) != 7) {
        perror("send");
        bad++;
    }
    int n = recv_wait(fd, buf, sizeof(buf) - 1, 3000);
    if (n != 7 || memcmp(buf, "udp-own", 7) != 0) {
        fprintf(stderr, "the program's datagram was not echoed (%d)\n", n);
        bad++;
    }
    n = recv_wait(atk, buf, sizeof(buf) - 1, 500);
    if (n > 0) {
        buf[n] = 0;
        fprintf(stderr, "the attacker got '%s' from the target through the "
                        "relay 127.0.0.1:%u\n", buf, ntohs(relay.sin_port));
        bad++;
    }
    printf("udp_hijack: %s\n", bad ? "relay hijacked" : "relay kept its peer");
    return bad ? 1 : 0;
}
