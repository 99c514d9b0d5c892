/* For t2331: linked INTO a test copy of mqcert.so (its version script makes
 * this definition local, so the plugin's calls bind to it; an LD_PRELOAD
 * cannot replace a function the mosquitto executable itself exports).
 * mosquitto_client_protocol() answers mp_websockets for the client whose
 * id is $MQSHIM_WS_CLIENT and the broker's own answer otherwise. Debian's
 * mosquitto has no websockets, so this is how a test puts a "websockets"
 * session into the SIGHUP re-check: the offline persistent session of
 * that client id stands in for a new websockets CONNECT that 2.0.11's
 * lws_service() would hand the plugin in the same window. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>
#include <mosquitto.h>
#include <mosquitto_broker.h>

int mosquitto_client_protocol(const struct mosquitto *client)
{
	static int (*real)(const struct mosquitto *);
	const char *ws = getenv("MQSHIM_WS_CLIENT");
	const char *id = mosquitto_client_id(client);

	if (ws && id && !strcmp(ws, id))
		return mp_websockets;
	if (!real)
		real = (int (*)(const struct mosquitto *))dlsym(RTLD_DEFAULT,
								 "mosquitto_client_protocol");
	return real ? real(client) : mp_mqtt;
}
