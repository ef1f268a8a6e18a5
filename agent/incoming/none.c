/* An agent built without libnftables: no incoming traffic. */
#include "agent.h"

#include <errno.h>

void incoming_handle(client_t *cl, const shunt_msg_t *m)
{
    reply_error(cl, m->id, ENOSYS, "incoming traffic not built into this "
                "agent (no libnftables)");
}

void incoming_event(agent_ev_t *ev, uint32_t events)
{
    (void)ev;
    (void)events;
}

void incoming_client_gone(client_t *cl) { (void)cl; }
void incoming_start(agent_t *a) { (void)a; }
void incoming_stop(agent_t *a) { (void)a; }
void incoming_reap(agent_t *a) { (void)a; }
void incoming_live(agent_t *a, int delta)
{
    (void)a;
    (void)delta;
}
