//! The fix for a trigger address: the Service's full name written into the
//! trigger (guarded by the value read; safe only when that Service serves), or
//! what a person must do when the name cannot simply be completed.

use serde_json::json;

use super::{Cause, KedaTriggers};
use crate::analyzers::address::{Address, Form, url_password};
use crate::analyzers::autoscaling::scaling::{self, ns_of};
use crate::analyzers::autoscaling::triggers::{Trigger, with_host};
use crate::cluster::{DynamicObject, ObjectRef, manager_of};
use crate::plan::Operation;
use crate::plan::operation::escape;
use crate::report::findings::{Applicability, Fix};

impl KedaTriggers {
    #[allow(clippy::too_many_arguments)]
    pub(super) fn fix(
        &self,
        obj: &DynamicObject,
        t: &Trigger<'_>,
        key: &str,
        addr: &Address,
        cause: &Cause<'_>,
        fqdn: &str,
        lookup_ns: &str,
    ) -> Fix {
        let ns = ns_of(&obj.metadata);
        let r: ObjectRef = scaling::custom_ref(obj);
        let svc = &addr.service;
        let original = t.get(key).unwrap_or_default();
        let helm = manager_of(&obj.metadata)
            .map(|m| format!(" {} is managed by {m}: change the value there too, or the next upgrade puts the short name back.", r))
            .unwrap_or_default();
        match cause {
            Cause::ShortName { ready, wrong_port } => {
                let new_value = with_host(original, &addr.host, fqdn);
                // Safe only when the full name is known to serve: ready endpoints, the port exposed.
                let serving = ready.is_some_and(|n| n > 0) && wrong_port.is_none();
                if url_password(original).is_some() {
                    return Fix::manual(format!(
                        "Use the Service's full name {fqdn} in metadata.{key}. The value carries a password, so do not patch it in place: put the corrected URL (with host {fqdn}) in a Secret referenced by a TriggerAuthentication, as the inline-credentials finding describes.{helm}"
                    ));
                }
                let path = format!("/spec/triggers/{}/metadata/{}", t.index, escape(key));
                // Guarded by the value read: the host is rewritten only while
                // the trigger still names the short one.
                let rewrite = |applicability| {
                    Operation::patch(&r, &obj.metadata, applicability)
                        .test(&path, json!(original))
                        .replace(&path, json!(new_value))
                };
                if serving {
                    Fix::new(
                        Applicability::Safe,
                        format!(
                            "Use the Service's full name in metadata.{key}: {new_value}.{helm}"
                        ),
                    )
                    .with_operation(rewrite(Applicability::Safe))
                } else {
                    let also = match (wrong_port, ready) {
                        (Some(ports), _) => format!(
                            "and use one of the ports Service {ns}/{svc} exposes ({})",
                            ports
                                .iter()
                                .map(i32::to_string)
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                        (None, Some(0)) => format!(
                            "and make the pods behind Service {ns}/{svc} ready: it has no ready endpoints"
                        ),
                        (None, _) => format!(
                            "after checking Service {ns}/{svc} has ready endpoints (they were not collected)"
                        ),
                    };
                    Fix::manual(format!(
                        "Use the Service's full name in metadata.{key} ({new_value}), {also}.{helm}"
                    ))
                    .with_operation(rewrite(Applicability::Manual))
                }
            }
            Cause::Missing { elsewhere, others } => {
                let guess = crate::analyzers::text::closest(svc, others)
                    .map(|g| format!(" Service {g} looks like the one meant."))
                    .unwrap_or_default();
                let hint = match elsewhere.as_slice() {
                    [one] => {
                        let (other_ns, _) = one.split_once('/').unwrap_or_default();
                        format!(
                            " A Service {svc} exists in namespace {other_ns}: if that is the one meant, use {svc}.{other_ns}.svc.cluster.local."
                        )
                    }
                    _ => String::new(),
                };
                let point = if addr.form == Form::Short {
                    "by full name, name.namespace.svc.cluster.local, since KEDA resolves short names in its own namespace"
                } else {
                    "by the namespace it runs in"
                };
                Fix::manual(format!(
                    "Deploy the {} server this trigger reads (nothing named {svc} is serving), then point metadata.{key} at its Service {point}.{guess}{hint}{helm}",
                    t.type_
                ))
            }
            Cause::NoEndpoints => Fix::manual(format!(
                "Make the pods behind Service {lookup_ns}/{svc} ready (see their findings), or fix the Service's selector."
            )),
            Cause::Port { ports } => Fix::manual(format!(
                "Use one of Service {lookup_ns}/{svc}'s ports ({}) in metadata.{key}, or add port {} to the Service.{helm}",
                ports
                    .iter()
                    .map(i32::to_string)
                    .collect::<Vec<_>>()
                    .join(", "),
                addr.port.unwrap_or_default()
            )),
        }
    }
}
