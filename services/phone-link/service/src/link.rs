//! The MQTT 5 session: connect with a last will, subscribe, answer, and keep going through
//! broker restarts. The retained status is signed for every paired phone. A persistent session (clean start off) makes the broker keep the QoS 1
//! requests that arrive while the car is away; the handler answers a redelivery from memory.

use std::sync::Arc;

use cabin_phone_protocol::{now_s, random_hex, Backoff, Broker, Topics, MAC_PROPERTY, VERSION};
use rumqttc::v5::mqttbytes::v5::{LastWill, Packet, PublishProperties};
use rumqttc::v5::mqttbytes::QoS;
use rumqttc::v5::{AsyncClient, Event};
use serde_json::json;

use crate::handler::{Handler, Reply};

#[derive(Debug, Clone)]
pub struct LinkOptions {
    pub broker: Broker,
    pub vehicle_id: String,
    /// The car's MQTT client id; its events go out as `<client_id>-events`. A stranger who
    /// connects with it pushes the car off the broker, so a broker without logins (`cabin up`'s
    /// own) gets one nobody can guess.
    pub client_id: String,
}

impl LinkOptions {
    /// The car's options on its OEM's broker: a client id that stays the same, so the broker
    /// keeps the car's session (and the requests sent while it was away).
    pub fn new(broker: Broker, vehicle_id: &str) -> LinkOptions {
        LinkOptions { broker, vehicle_id: vehicle_id.to_string(), client_id: format!("cabin-car-{vehicle_id}") }
    }

    /// For a broker that checks no logins and lives only as long as the car's own process
    /// (`cabin up`): a client id nobody can guess, and no session to keep.
    pub fn unguessable(broker: Broker, vehicle_id: &str) -> LinkOptions {
        LinkOptions { client_id: format!("cabin-car-{vehicle_id}-{}", random_hex(16)), ..LinkOptions::new(broker, vehicle_id) }
    }
}

fn status(online: bool) -> Vec<u8> {
    json!({ "v": VERSION, "online": online, "since": now_s() }).to_string().into_bytes()
}

/// Publishes (retained) that the car is online, signed for every phone paired now: a phone
/// believes no `online: true` that is not. The last will's `online: false` is not signed: it is
/// fixed at connection time, before later phones pair.
async fn publish_online(client: &AsyncClient, topics: &Topics, handler: &Handler) -> Result<(), rumqttc::v5::ClientError> {
    let payload = status(true);
    let phones = handler.phones.clone();
    let (topic, signed) = (topics.status(), payload.clone());
    // The paired phones are a file, read under a lock: on a blocking thread.
    let signatures = tokio::task::spawn_blocking(move || phones.sign_notice(&topic, &signed, None))
        .await
        .ok()
        .and_then(|signed| signed.inspect_err(|error| tracing::warn!(%error, "cannot sign the status for the paired phones")).ok());
    let properties = PublishProperties { user_properties: signatures.unwrap_or_default(), ..Default::default() };
    client.publish_with_properties(topics.status(), QoS::AtLeastOnce, true, payload, properties).await
}

/// Serves phones until the task is dropped. Broker outages are logged and retried.
pub async fn run(options: LinkOptions, handler: Arc<Handler>) {
    let topics = Topics::new(&options.vehicle_id);
    let mut mqtt = options.broker.mqtt_options(&options.client_id);
    mqtt.set_clean_start(false);
    mqtt.set_session_expiry_interval(Some(3600));
    mqtt.set_last_will(LastWill::new(topics.status(), status(false), QoS::AtLeastOnce, true, None));
    let (client, mut eventloop) = AsyncClient::new(mqtt, 256);
    handler.handoffs.attach(client.clone());
    let mut connected = false;
    let mut backoff = Backoff::for_broker();
    loop {
        match eventloop.poll().await {
            Ok(Event::Incoming(Packet::ConnAck(_))) => {
                tracing::info!(broker = %options.broker.host, port = options.broker.port, vehicle = %options.vehicle_id, "connected to the broker");
                connected = true;
                backoff.reset();
                let (client, topics, handler) = (client.clone(), topics.clone(), handler.clone());
                tokio::spawn(async move {
                    let subscribed = async {
                        client.subscribe(topics.requests(), QoS::AtLeastOnce).await?;
                        client.subscribe(topics.pairing(), QoS::AtLeastOnce).await?;
                        publish_online(&client, &topics, &handler).await
                    };
                    if let Err(error) = subscribed.await {
                        tracing::warn!(%error, "could not subscribe");
                    }
                });
            }
            Ok(Event::Incoming(Packet::Publish(publish))) => {
                let topic = String::from_utf8_lossy(&publish.topic).to_string();
                let properties = publish.properties.unwrap_or_default();
                let Some(response_topic) = properties.response_topic.clone() else {
                    tracing::warn!(%topic, "a request without a response topic: nobody to answer, dropped");
                    continue;
                };
                let mac = properties.user_properties.iter().find(|(name, _)| name == MAC_PROPERTY).map(|(_, mac)| mac.clone());
                let (client, handler, topics) = (client.clone(), handler.clone(), topics.clone());
                tokio::spawn(async move {
                    let reply = if topic == topics.pairing() {
                        let reply = handler.pair(&publish.payload, &response_topic);
                        // A phone just paired: the retained status is signed for it too.
                        if reply.as_ref().and_then(|r| r.response.result.as_ref()).is_some_and(|result| result.get("phone").is_some()) {
                            if let Err(error) = publish_online(&client, &topics, &handler).await {
                                tracing::warn!(%error, "could not sign the status for the new phone");
                            }
                        }
                        reply
                    } else {
                        handler.request(&publish.payload, &response_topic, mac.as_deref()).await
                    };
                    let Some(Reply { response, key }) = reply else { return };
                    let payload = serde_json::to_vec(&response).unwrap_or_default();
                    // Signed for the phone that proved its key: nobody else on the broker can
                    // put words in the car's mouth.
                    let signature =
                        key.map(|key| (MAC_PROPERTY.to_string(), key.sign_response(response.id.as_deref().unwrap_or(""), &payload)));
                    let reply = PublishProperties {
                        correlation_data: properties.correlation_data,
                        content_type: Some("application/json".into()),
                        user_properties: signature.into_iter().collect(),
                        ..Default::default()
                    };
                    if let Err(error) = client.publish_with_properties(response_topic, QoS::AtLeastOnce, false, payload, reply).await {
                        tracing::warn!(%error, "could not send a response");
                    }
                });
            }
            Ok(_) => {}
            Err(error) => {
                if connected {
                    tracing::warn!(%error, "lost the broker; retrying");
                    connected = false;
                } else {
                    tracing::debug!(%error, "broker still unreachable");
                }
                tokio::time::sleep(backoff.next_wait()).await;
            }
        }
    }
}
