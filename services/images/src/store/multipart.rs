//! One S3 multipart upload that either completes or is aborted, never left behind.

use aws_sdk_s3::{
    Client,
    primitives::ByteStream,
    types::{CompletedMultipartUpload, CompletedPart},
};
use bytes::Bytes;

use super::{StoreError, classify, if_none_match};
use crate::access::Write;

/// An upload in progress. Parts are sent in order; the object exists only after
/// [`MultipartUpload::complete`]. [`MultipartUpload::abort`] discards the parts; if the
/// value is dropped without either (the request was cancelled: client gone, timeout),
/// the abort runs in a background task.
pub struct MultipartUpload {
    client: Client,
    bucket: String,
    key: String,
    upload_id: String,
    parts: Vec<CompletedPart>,
    finished: bool,
}

impl MultipartUpload {
    pub(super) fn new(client: Client, bucket: String, key: String, upload_id: String) -> Self {
        Self {
            client,
            bucket,
            key,
            upload_id,
            parts: Vec::new(),
            finished: false,
        }
    }

    /// Sends the next part (every part but the last must be at least 5 MiB).
    pub async fn upload_part(&mut self, body: Bytes) -> Result<(), StoreError> {
        let part_number = i32::try_from(self.parts.len() + 1)
            .map_err(|_| StoreError::Failed("too many parts".into()))?;
        let out = self
            .client
            .upload_part()
            .bucket(&self.bucket)
            .key(&self.key)
            .upload_id(&self.upload_id)
            .part_number(part_number)
            .body(ByteStream::from(body))
            .send()
            .await
            .map_err(classify)?;
        self.parts.push(
            CompletedPart::builder()
                .part_number(part_number)
                .set_e_tag(out.e_tag)
                .build(),
        );
        Ok(())
    }

    /// Assembles the parts into the object, replacing any object with the same key; with
    /// [`Write::CreateOnly`], only if the key does not exist (`If-None-Match: *`, checked
    /// by S3 when it completes), else [`StoreError::Exists`] and the parts are discarded.
    pub async fn complete(mut self, write: Write) -> Result<(), StoreError> {
        let result = self
            .client
            .complete_multipart_upload()
            .bucket(&self.bucket)
            .key(&self.key)
            .upload_id(&self.upload_id)
            .set_if_none_match(if_none_match(write))
            .multipart_upload(
                CompletedMultipartUpload::builder()
                    .set_parts(Some(std::mem::take(&mut self.parts)))
                    .build(),
            )
            .send()
            .await
            .map(|_| ())
            .map_err(classify);
        if result.is_ok() {
            self.finished = true;
        }
        // On failure, Drop aborts.
        result
    }

    /// Discards the parts sent so far. Failures are logged: S3 also expires abandoned
    /// uploads through lifecycle rules, and the object never became visible anyway.
    pub async fn abort(mut self) {
        self.finished = true;
        abort(&self.client, &self.bucket, &self.key, &self.upload_id).await;
    }
}

impl Drop for MultipartUpload {
    fn drop(&mut self) {
        if self.finished {
            return;
        }
        let (client, bucket, key, upload_id) = (
            self.client.clone(),
            std::mem::take(&mut self.bucket),
            std::mem::take(&mut self.key),
            std::mem::take(&mut self.upload_id),
        );
        match tokio::runtime::Handle::try_current() {
            Ok(rt) => {
                rt.spawn(async move { abort(&client, &bucket, &key, &upload_id).await });
            }
            Err(_) => {
                tracing::warn!(image.key = %key, "multipart upload left unaborted: no runtime")
            }
        }
    }
}

async fn abort(client: &Client, bucket: &str, key: &str, upload_id: &str) {
    let aborted = client
        .abort_multipart_upload()
        .bucket(bucket)
        .key(key)
        .upload_id(upload_id)
        .send()
        .await;
    if let Err(e) = aborted {
        tracing::warn!(image.key = %key, error = %classify(e), "aborting a multipart upload failed");
    }
}
