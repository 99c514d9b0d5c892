/* Online renewal (mqadmin serve): the reserved topics and the user
 * property, shared by the plugin (which enforces who may use them) and
 * serve (which answers). README.md "Renewal over MQTT" is the reference. */
#ifndef MQ_RENEW_H
#define MQ_RENEW_H

/* Everything under this prefix is decided by the plugin's built-in grant;
 * user ACL rules neither widen nor narrow it. */
#define MQ_RENEW_PREFIX "mqcert/"
#define MQ_RENEW_PREFIX_LEN 7
/* mqcert/renew/<device>/req: the device's CSR; .../res: the answer. */
#define MQ_RENEW_TOPIC "mqcert/renew/"
#define MQ_RENEW_TOPIC_LEN 13
/* mqcert/rollover/<device>: published by the plugin when a device with a
 * pending rollover connects with its new certificate; only services read it. */
#define MQ_ROLLOVER_TOPIC "mqcert/rollover/"
#define MQ_ROLLOVER_TOPIC_LEN 16
/* The MQTT 5 user property the plugin sets on each request to the device
 * name it verified (one sent by the client is removed). */
#define MQ_RENEW_PROP "mqcert-device"
/* The shared subscription group every serve instance joins. */
#define MQ_RENEW_SHARE "$share/mqcert-serve/"

#endif
