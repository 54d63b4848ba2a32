//! Capture devices and the choice of one when `-i` is not given.

/// A capture device as `pcap_findalldevs` lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Device {
    /// Interface name, such as `eth0`.
    pub name: String,
    /// libpcap's description, if it has one.
    pub description: Option<String>,
    /// The interface is a loopback interface.
    pub loopback: bool,
    /// The interface is administratively up.
    pub up: bool,
    /// The interface is running (has a carrier, on most systems).
    pub running: bool,
}

/// The pseudo-device that captures on every interface at once.
const ANY_DEVICE: &str = "any";

/// Returns the interface to capture on: `requested` when given, else the first of
/// `devices` that is up, is not a loopback interface and is not the `any`
/// pseudo-device. Among those, one that is also running is preferred, so that an
/// unplugged port listed first does not win over a connected one.
pub fn select_device(
    devices: &[Device],
    requested: Option<&str>,
) -> Result<String, super::LiveError> {
    if let Some(name) = requested {
        return Ok(name.to_string());
    }
    let candidates: Vec<&Device> = devices
        .iter()
        .filter(|device| device.up && !device.loopback && device.name != ANY_DEVICE)
        .collect();
    candidates
        .iter()
        .find(|device| device.running)
        .or_else(|| candidates.first())
        .map(|device| device.name.clone())
        .ok_or(super::LiveError::NoDevice)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn device(name: &str, loopback: bool, up: bool, running: bool) -> Device {
        Device {
            name: name.to_string(),
            description: None,
            loopback,
            up,
            running,
        }
    }

    #[test]
    fn requested_device_wins() {
        let devices = [device("eth0", false, true, true)];
        assert_eq!(select_device(&devices, Some("lo")).unwrap(), "lo");
        assert_eq!(select_device(&[], Some("wlan0")).unwrap(), "wlan0");
    }

    #[test]
    fn skips_any_loopback_and_down() {
        let devices = [
            device("any", false, true, true),
            device("lo", true, true, true),
            device("eth0", false, false, false),
            device("eth1", false, true, true),
        ];
        assert_eq!(select_device(&devices, None).unwrap(), "eth1");
    }

    #[test]
    fn prefers_running_interface() {
        let devices = [
            device("eth0", false, true, false),
            device("eth1", false, true, true),
        ];
        assert_eq!(select_device(&devices, None).unwrap(), "eth1");
    }

    #[test]
    fn up_without_carrier_accepted() {
        let devices = [
            device("lo", true, true, true),
            device("eth0", false, true, false),
        ];
        assert_eq!(select_device(&devices, None).unwrap(), "eth0");
    }

    #[test]
    fn only_loopback_is_error() {
        let devices = [
            device("lo", true, true, true),
            device("any", false, true, true),
            device("eth0", false, false, false),
        ];
        let err = select_device(&devices, None).unwrap_err();
        assert!(matches!(err, super::super::LiveError::NoDevice));
        assert!(err.to_string().contains("-i"), "{err}");
        assert!(select_device(&[], None).is_err());
    }
}
