/*
 * mqcert_esp32.ino: an ESP32 that logs in to Mosquitto + mqcert with its own
 * client certificate (no username, no password) and publishes telemetry.
 *
 * 1. On the machine that holds the CA:
 *      mqadmin device issue esp32-kitchen --group sensors --format c-header
 *      mqadmin acl add --all --topic 'devices/%u/#' --access readwrite
 *    and copy devices/esp32-kitchen/esp32-kitchen.h into this sketch's folder.
 *    The header holds the device's PRIVATE KEY: keep it out of version
 *    control and delete it once the board is flashed.
 * 2. Fill in WIFI_SSID, WIFI_PASS and MQTT_HOST below. For another device
 *    name change DEVICE_NAME, the #include and the three MQCERT_*_PEM lines
 *    (mqadmin names the arrays after the device, '-' and '.' become '_').
 * 3. Board: any ESP32 with the Arduino core (it brings WiFiClientSecure).
 *    Library: PubSubClient by Nick O'Leary (Library Manager).
 *
 * MQTT_HOST must be a DNS name in the broker certificate's SANs
 * (mqadmin server issue NAME --san DNS:NAME): the TLS stack checks it.
 * Keys: mqadmin's default EC P-256 or --key-type rsa; not ed25519, which
 * the ESP32's mbedTLS does not speak.
 *
 * Online renewal (renew.ino, beside this file; off unless MQCERT_RENEW is
 * defined below): once a day the sketch asks mqadmin serve for a new
 * certificate when its own is in the last third of its lifetime, keeps the
 * new key and certificate in NVS and reconnects with them; no reflashing.
 * It needs 'mqadmin serve' running (docs/renewal.md). NOT
 * BUILT HERE: no ESP toolchain is available to this project; compile and
 * try it on a board first.
 *
 * ESP8266 instead (BearSSL): include <ESP8266WiFi.h> and use
 *      BearSSL::WiFiClientSecure net;
 *      BearSSL::X509List ca(esp32_kitchen_ca_pem);      // globals: they must
 *      BearSSL::X509List cert(esp32_kitchen_cert_pem);  // outlive the client
 *      BearSSL::PrivateKey key(esp32_kitchen_key_pem);
 *    and in tls_setup():
 *      net.setTrustAnchors(&ca);
 *      net.setClientECCert(&cert, &key, BR_KEYTYPE_KEYX | BR_KEYTYPE_SIGN, BR_KEYTYPE_EC);
 *      // --key-type rsa devices: net.setClientRSACert(&cert, &key);
 *      net.setX509Time(time(nullptr));   // after clock_sync(): BearSSL
 *                                        // checks validity dates
 *    BearSSL cannot verify an IP address SAN at all: connect to a DNS name.
 *    If memory is short, net.setBufferSizes(1024, 1024) before connecting.
 */
#include <WiFi.h>
#include <WiFiClientSecure.h>
#include <PubSubClient.h>
#include <time.h>

#include "esp32-kitchen.h" /* from mqadmin device issue ... --format c-header */

/* The device name mqadmin issued: also the MQTT client id, because mqcert's
 * default plugin_opt_clientid_binding exact requires client id = username
 * (= device name unless issued with --username). */
#define DEVICE_NAME "esp32-kitchen"
#define MQCERT_CA_PEM esp32_kitchen_ca_pem
#define MQCERT_CERT_PEM esp32_kitchen_cert_pem
#define MQCERT_KEY_PEM esp32_kitchen_key_pem
/* Online renewal over MQTT (renew.ino): uncomment once mqadmin serve runs. */
/* #define MQCERT_RENEW */

static const char WIFI_SSID[] = "your-ssid";
static const char WIFI_PASS[] = "your-wifi-passphrase";
static const char MQTT_HOST[] = "mqtt.example.com";
static const uint16_t MQTT_PORT = 8883;
static const unsigned long PUBLISH_EVERY_MS = 10000;

static WiFiClientSecure net;
static PubSubClient mqtt(net);
static char topic[96];
static unsigned long last_publish;

static void wifi_connect()
{
	WiFi.mode(WIFI_STA);
	WiFi.begin(WIFI_SSID, WIFI_PASS);
	Serial.print("wifi: connecting");
	while (WiFi.status() != WL_CONNECTED) {
		delay(500);
		Serial.print(".");
	}
	Serial.println(" connected");
}

/* The device certificate starts 5 minutes in the past and has an expiry
 * date: give the TLS stack the real time before the first handshake. */
static void clock_sync()
{
	configTime(0, 0, "pool.ntp.org", "time.nist.gov");
	Serial.print("time: waiting for NTP");
	while (time(nullptr) < 1700000000) {
		delay(500);
		Serial.print(".");
	}
	Serial.println(" ok");
}

/* WiFiClientSecure keeps these pointers, not copies: they must stay valid
 * for the whole program, which the header's static arrays do. */
static void tls_setup()
{
	net.setCACert(MQCERT_CA_PEM);         /* verifies the broker */
#ifdef MQCERT_RENEW
	/* Who this device is and the proof: the pair a renewal stored in
	 * NVS, else the header's (renew.ino). */
	creds_load();
#else
	net.setCertificate(MQCERT_CERT_PEM);  /* who this device is */
	net.setPrivateKey(MQCERT_KEY_PEM);    /* proves it */
#endif
}

static void mqtt_connect()
{
	while (!mqtt.connected()) {
		Serial.printf("mqtt: connecting to %s:%u as %s\n", MQTT_HOST, (unsigned)MQTT_PORT,
			      DEVICE_NAME);
		/* Client id only: the certificate is the identity. */
		if (mqtt.connect(DEVICE_NAME)) {
			Serial.println("mqtt: connected");
			return;
		}
		/* 5 = not authorised: certificate not on the allowlist, revoked or
		 * expired, or a client id other than the device name. The broker's
		 * log has an "mqcert: refused client" line with the reason. -2 with
		 * no broker log line: TLS failed (wrong CA, host name not in the
		 * server certificate, clock not set). */
		Serial.printf("mqtt: failed, state %d; retrying in 5 s\n", mqtt.state());
		delay(5000);
	}
}

void setup()
{
	Serial.begin(115200);
	wifi_connect();
	clock_sync();
	tls_setup();
	snprintf(topic, sizeof(topic), "devices/%s/telemetry", DEVICE_NAME);
	mqtt.setServer(MQTT_HOST, MQTT_PORT);
#ifdef MQCERT_RENEW
	mqtt.setBufferSize(4096); /* a renewal's answer: certificate + chain */
#endif
	mqtt_connect();
}

void loop()
{
	char payload[64];

	if (WiFi.status() != WL_CONNECTED)
		wifi_connect();
	if (!mqtt.connected())
		mqtt_connect();
	mqtt.loop();
#ifdef MQCERT_RENEW
	renew_maybe();
#endif
	if (millis() - last_publish < PUBLISH_EVERY_MS)
		return;
	last_publish = millis();
	snprintf(payload, sizeof(payload), "{\"uptime_s\":%lu,\"rssi\":%d}", millis() / 1000,
		 (int)WiFi.RSSI());
	/* A publish the ACL denies is dropped by the broker without an error
	 * to the client: check "mqadmin acl check esp32-kitchen TOPIC write". */
	if (!mqtt.publish(topic, payload))
		Serial.println("mqtt: publish failed");
}
