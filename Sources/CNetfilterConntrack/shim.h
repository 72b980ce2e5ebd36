#include <stdint.h>
#include <sys/types.h>
#include <netinet/in.h>
#include <libnetfilter_conntrack/libnetfilter_conntrack.h>

/* setns(2) with CLONE_NEWNET: glibc declares it only under _GNU_SOURCE, which Swift's
   Glibc module is not built with. The calling thread joins the namespace of `fd`. */
int setns(int fd, int nstype);
static inline int reconcile_enter_network_namespace(int fd) { return setns(fd, 0x40000000 /* CLONE_NEWNET */); }
