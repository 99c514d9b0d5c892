/*
 * renew.ino: online renewal for the ESP32 sketch, the same flow as the
 * reference client examples/renew/mqcert-renew.c (docs/renewal.md, "Renewal over
 * MQTT"), with the ESP32's mbedTLS. NOT BUILT OR RUN HERE: no ESP toolchain
 * is available to this project; it follows the mbedTLS 2.x API of the
 * Arduino-ESP32 core 2.x and must be compiled and tried on a board before use.
 *
 * Flow, once a day (renew_maybe() from loop()):
 *   1. read the validity of the certificate in use; outside the last third
 *      of its lifetime, nothing happens (the service would answer
 *      outside_window anyway, unless the operator ran device set --renew-now:
 *      RENEW_ASK_ALWAYS asks every day so that works too);
 *   2. make a new EC P-256 key and a CSR (DER) signed with it;
 *   3. subscribe to mqcert/renew/<device>/res and publish the CSR to
 *      mqcert/renew/<device>/req (PubSubClient speaks MQTT 3.1.1: the fixed
 *      reply topic is the answer's topic);
 *   4. check the answer: the certificate parses, is for the new key
 *      (mbedtls_pk_check_pair) and chains to the CA (mbedtls_x509_crt_verify);
 *   5. store key and certificate in NVS in the spare slot, then flip the
 *      slot number: one NVS write makes the new pair current, so a reset at
 *      any moment leaves one complete pair;
 *   6. reconnect with the new pair (the service then retires the old one).
 * A refused request ({"status":"error","code":...}) is printed and retried
 * the next day; no answer within 30 s likewise.
 *
 * Switch it on with #define MQCERT_RENEW in mqcert_esp32.ino, which then
 * loads the pair with creds_load(), raises PubSubClient's buffer to hold
 * the answer (certificate + chain as JSON, about 2 KB) and calls
 * renew_maybe() from loop().
 */
#ifdef MQCERT_RENEW /* defined in mqcert_esp32.ino to switch renewal on */
#include <Preferences.h>
#include <mbedtls/ctr_drbg.h>
#include <mbedtls/ecp.h>
#include <mbedtls/entropy.h>
#include <mbedtls/pk.h>
#include <mbedtls/x509_crt.h>
#include <mbedtls/x509_csr.h>

#define RENEW_ASK_ALWAYS 0
#define RENEW_EVERY_MS (24UL * 3600 * 1000)
#define RENEW_WAIT_MS 30000

static Preferences nvs;
static String cur_cert, cur_key; /* the pair in use, PEM */
static volatile bool answer_ready;
static String answer;
static unsigned long last_renew_try;

/* The pair in use: NVS slot "a" or "b" when a renewal stored one, else the
 * header's. Call before tls_setup(). */
void creds_load()
{
	nvs.begin("mqcert", true);
	String slot = nvs.getString("slot", "");
	if (slot.length()) {
		cur_cert = nvs.getString(("crt_" + slot).c_str(), "");
		cur_key = nvs.getString(("key_" + slot).c_str(), "");
	}
	nvs.end();
	if (!cur_cert.length() || !cur_key.length()) {
		cur_cert = MQCERT_CERT_PEM;
		cur_key = MQCERT_KEY_PEM;
	}
	net.setCertificate(cur_cert.c_str());
	net.setPrivateKey(cur_key.c_str());
}

static bool creds_store(const String &crt, const String &key)
{
	nvs.begin("mqcert", false);
	String spare = nvs.getString("slot", "") == "a" ? "b" : "a";
	bool ok = nvs.putString(("key_" + spare).c_str(), key) &&
		  nvs.putString(("crt_" + spare).c_str(), crt) &&
		  nvs.putString("slot", spare); /* the one write that switches */
	nvs.end();
	return ok;
}

static bool renew_due()
{
	mbedtls_x509_crt crt;
	struct tm nb = {}, na = {};
	bool due = false;

	mbedtls_x509_crt_init(&crt);
	if (mbedtls_x509_crt_parse(&crt, (const unsigned char *)cur_cert.c_str(),
				   cur_cert.length() + 1) == 0) {
		nb.tm_year = crt.valid_from.year - 1900; nb.tm_mon = crt.valid_from.mon - 1;
		nb.tm_mday = crt.valid_from.day; nb.tm_hour = crt.valid_from.hour;
		na.tm_year = crt.valid_to.year - 1900; na.tm_mon = crt.valid_to.mon - 1;
		na.tm_mday = crt.valid_to.day; na.tm_hour = crt.valid_to.hour;
		time_t from = mktime(&nb), to = mktime(&na), now = time(nullptr);
		due = to - now <= (to - from) / 3;
	}
	mbedtls_x509_crt_free(&crt);
	return due || RENEW_ASK_ALWAYS;
}

/* PubSubClient's callback: only the reply topic is subscribed. */
static void renew_on_message(char *topic, byte *payload, unsigned int len)
{
	answer = String((const char *)payload).substring(0, len);
	answer_ready = true;
}

/* The JSON string value of key in the answer, unescaped (\n, \", \\, \/). */
static String json_str(const String &js, const char *key)
{
	String pat = String("\"") + key + "\":\"", out;
	int i = js.indexOf(pat);

	if (i < 0)
		return "";
	for (i += pat.length(); i < (int)js.length() && js[i] != '"'; i++) {
		if (js[i] == '\\' && i + 1 < (int)js.length()) {
			char c = js[++i];
			out += c == 'n' ? '\n' : c;
		} else {
			out += js[i];
		}
	}
	return out;
}

static bool renew_once()
{
	mbedtls_entropy_context ent;
	mbedtls_ctr_drbg_context rng;
	mbedtls_pk_context key;
	mbedtls_x509write_csr csr;
	mbedtls_x509_crt fresh, ca;
	unsigned char der[1024], pem[512];
	char req[96], res[96];
	uint32_t flags = 0;
	int n, ok = 0;

	mbedtls_entropy_init(&ent);
	mbedtls_ctr_drbg_init(&rng);
	mbedtls_pk_init(&key);
	mbedtls_x509write_csr_init(&csr);
	mbedtls_x509_crt_init(&fresh);
	mbedtls_x509_crt_init(&ca);
	if (mbedtls_ctr_drbg_seed(&rng, mbedtls_entropy_func, &ent, NULL, 0) ||
	    mbedtls_pk_setup(&key, mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY)) ||
	    mbedtls_ecp_gen_key(MBEDTLS_ECP_DP_SECP256R1, mbedtls_pk_ec(key),
				mbedtls_ctr_drbg_random, &rng))
		goto out;
	mbedtls_x509write_csr_set_md_alg(&csr, MBEDTLS_MD_SHA256);
	mbedtls_x509write_csr_set_key(&csr, &key);
	if (mbedtls_x509write_csr_set_subject_name(&csr, "CN=" DEVICE_NAME))
		goto out;
	/* DER is written at the end of the buffer. */
	n = mbedtls_x509write_csr_der(&csr, der, sizeof(der), mbedtls_ctr_drbg_random, &rng);
	if (n <= 0)
		goto out;

	snprintf(req, sizeof(req), "mqcert/renew/%s/req", DEVICE_NAME);
	snprintf(res, sizeof(res), "mqcert/renew/%s/res", DEVICE_NAME);
	answer_ready = false;
	mqtt.setCallback(renew_on_message);
	if (!mqtt.subscribe(res, 1) || !mqtt.publish(req, der + sizeof(der) - n, n))
		goto out;
	for (unsigned long t0 = millis(); !answer_ready && millis() - t0 < RENEW_WAIT_MS;)
		mqtt.loop();
	mqtt.unsubscribe(res);
	if (!answer_ready) {
		Serial.println("renew: no answer (service down?); retrying tomorrow");
		goto out;
	}
	if (json_str(answer, "status") != "ok") {
		Serial.printf("renew: refused: %s: %s\n", json_str(answer, "code").c_str(),
			      json_str(answer, "message").c_str());
		goto out;
	}
	{
		String crt = json_str(answer, "certificate");
		String keypem;

		/* The answer must be for this key and chain to the CA. */
		if (mbedtls_x509_crt_parse(&fresh, (const unsigned char *)crt.c_str(), crt.length() + 1) ||
		    mbedtls_pk_check_pair(&fresh.pk, &key) ||
		    mbedtls_x509_crt_parse(&ca, (const unsigned char *)MQCERT_CA_PEM,
					   strlen(MQCERT_CA_PEM) + 1) ||
		    mbedtls_x509_crt_verify(&fresh, &ca, NULL, NULL, &flags, NULL, NULL)) {
			Serial.println("renew: the answer does not verify; keeping the old pair");
			goto out;
		}
		static unsigned char kbuf[256];
		if (mbedtls_pk_write_key_pem(&key, kbuf, sizeof(kbuf)))
			goto out;
		keypem = (const char *)kbuf;
		memset(kbuf, 0, sizeof(kbuf));
		if (!creds_store(crt, keypem)) {
			Serial.println("renew: cannot write NVS; keeping the old pair");
			goto out;
		}
		Serial.printf("renew: renewed, serial %s; reconnecting\n",
			      json_str(answer, "serial").c_str());
		ok = 1;
	}
out:
	(void)pem;
	mbedtls_x509_crt_free(&ca);
	mbedtls_x509_crt_free(&fresh);
	mbedtls_x509write_csr_free(&csr);
	mbedtls_pk_free(&key);
	mbedtls_ctr_drbg_free(&rng);
	mbedtls_entropy_free(&ent);
	return ok;
}

/* From loop(): once a day; after a renewal, reconnect with the new pair. */
void renew_maybe()
{
	if (last_renew_try && millis() - last_renew_try < RENEW_EVERY_MS)
		return;
	last_renew_try = millis();
	if (!renew_due() || !renew_once())
		return;
	mqtt.disconnect();
	net.stop();
	creds_load();
	mqtt_connect();
}
#endif /* MQCERT_RENEW */
