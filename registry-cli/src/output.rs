//! Human-readable output: one record as fields, many as a table.

use device_record::DeviceRecord;

pub fn print_record(r: &DeviceRecord) {
    let labels: Vec<String> = r.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let rows = [
        ("uuid", r.uuid.clone()),
        ("type", r.node_type.to_string()),
        ("virtual ip", r.virtual_ip.clone()),
        ("banned", r.banned.to_string()),
        ("banned at", r.banned_timestamp.clone().unwrap_or_default()),
        ("ban reason", r.ban_reason.clone().unwrap_or_default()),
        ("banned by", r.banned_by_msp.clone().unwrap_or_default()),
        (
            "key",
            format!("{} {}", r.key_algorithm.as_str(), r.key_fingerprint),
        ),
        ("owner", r.owner_msp.clone()),
        ("created", r.created_at.clone()),
        ("updated", r.updated_at.clone()),
        ("version", r.version.to_string()),
        ("labels", labels.join(", ")),
    ];
    for (name, value) in rows {
        println!("{name:<11} {value}");
    }
}

pub fn print_table(records: &[DeviceRecord]) {
    println!(
        "{:<36}  {:<13}  {:<15}  {:<6}  {:>7}  OWNER",
        "UUID", "TYPE", "VIRTUAL IP", "BANNED", "VERSION"
    );
    for r in records {
        println!(
            "{:<36}  {:<13}  {:<15}  {:<6}  {:>7}  {}",
            r.uuid,
            r.node_type.as_str(),
            r.virtual_ip,
            r.banned,
            r.version,
            r.owner_msp
        );
    }
    println!("{} device(s)", records.len());
}
