/* A canary for leaks: every access here must reach the target (a file
 * only it has, a name only its DNS knows, a connection to a cluster
 * service).  The comparison shows the results match; the recorder shows
 * none of these calls touched this host. */
#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int main(void)
{
    char buf[128] = "";
    FILE *f = fopen("/etc/canary/token", "r");
    if (f) {
        if (!fgets(buf, sizeof(buf), f))
            buf[0] = 0;
        fclose(f);
    }
    printf("token: %s", buf[0] ? buf : "(none)\n");
    struct addrinfo hints = {.ai_family = AF_INET, .ai_socktype = SOCK_STREAM}, *ai;
    int rc = getaddrinfo("api.cluster", "8080", &hints, &ai);
    printf("getaddrinfo api.cluster: %s\n", rc ? gai_strerror(rc) : "ok");
    if (rc == 0) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        printf("connect: %s\n", connect(fd, ai->ai_addr, ai->ai_addrlen) == 0 ? "ok" : "failed");
        const char req[] = "GET /canary.txt HTTP/1.0\r\n\r\n";
        if (write(fd, req, sizeof(req) - 1) > 0) {
            char resp[512];
            ssize_t n, total = 0;
            while ((n = read(fd, resp + total, sizeof(resp) - 1 - (size_t)total)) > 0)
                total += n;
            resp[total] = 0;
            char *body = strstr(resp, "\r\n\r\n");
            printf("body: %s", body ? body + 4 : "(none)\n");
        }
        close(fd);
        freeaddrinfo(ai);
    }
    return 0;
}
