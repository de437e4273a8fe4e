//! Serde helpers shared by the document types.

use serde::{Deserialize, Deserializer};

/// Reads `null` as the type's default, as Go's `encoding/json` writes nil slices and maps.
pub(crate) fn null_as_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

/// Whether a boolean is false, for `skip_serializing_if`.
pub(crate) fn is_false(value: &bool) -> bool {
    !*value
}

/// A set of strings written as a JSON object whose values are empty objects, as Go writes
/// `map[string]struct{}` (`ExposedPorts`, `Volumes`). Any values are accepted when reading, and
/// `null` reads as an empty set.
pub(crate) mod set_as_object {
    use std::collections::{BTreeMap, BTreeSet};

    use serde::de::IgnoredAny;
    use serde::ser::SerializeMap;
    use serde::{Deserialize, Deserializer, Serializer};

    pub(crate) fn serialize<S: Serializer>(
        set: &BTreeSet<String>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(set.len()))?;
        for key in set {
            map.serialize_entry(key, &BTreeMap::<(), ()>::new())?;
        }
        map.end()
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<BTreeSet<String>, D::Error> {
        let map = Option::<BTreeMap<String, IgnoredAny>>::deserialize(deserializer)?;
        Ok(map.unwrap_or_default().into_keys().collect())
    }
}
