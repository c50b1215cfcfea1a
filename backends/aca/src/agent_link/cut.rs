//! An agent link failed as the network fails it, on request
//! (`AcaBackend::drop_agent_link`, a test and operator hook): from the cut
//! on, the path is dead — frames sent are lost, frames arriving are never
//! read — and after [`DEAD_FOR`] the failure is noticed: the transport
//! reports an error, the connection closes and the agent dials again with
//! its backoff. Nothing in the peer library is faked: what it sent in the
//! meantime is really gone, as on a broken network, and must be resumed.

use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use bytes::Bytes;
use futures_util::{Sink, Stream};
use sockerless_agent::transport::TransportError;

/// How long a cut link stays silently dead before its failure is noticed.
pub const DEAD_FOR: Duration = Duration::from_millis(300);

#[derive(Debug, Default)]
struct Switch {
    cut: AtomicBool,
    /// The reading task, woken by the cut so it starts the dead time.
    reader: Mutex<Option<Waker>>,
}

/// Cuts one agent link (see the module doc).
#[derive(Debug, Clone, Default)]
pub struct LinkCut(Arc<Switch>);

impl LinkCut {
    /// Kills the link's path now; its failure shows [`DEAD_FOR`] later.
    pub fn cut(&self) {
        self.0.cut.store(true, Ordering::SeqCst);
        let reader = self
            .0
            .reader
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        if let Some(waker) = reader {
            waker.wake();
        }
    }
}

/// A frame transport that a [`LinkCut`] can fail.
pub struct Cuttable<T> {
    io: T,
    switch: Arc<Switch>,
    dead: Option<Pin<Box<tokio::time::Sleep>>>,
}

/// Wraps `io`; the handle cuts it.
pub fn cuttable<T>(io: T) -> (Cuttable<T>, LinkCut) {
    let cut = LinkCut::default();
    let io = Cuttable {
        io,
        switch: cut.0.clone(),
        dead: None,
    };
    (io, cut)
}

impl<T> Cuttable<T> {
    fn is_cut(&self) -> bool {
        self.switch.cut.load(Ordering::SeqCst)
    }
}

impl<T> Stream for Cuttable<T>
where
    T: Stream<Item = Result<Bytes, TransportError>> + Unpin,
{
    type Item = Result<Bytes, TransportError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if !this.is_cut() {
            {
                let mut reader = this.switch.reader.lock().unwrap_or_else(|p| p.into_inner());
                if !reader.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
                    *reader = Some(cx.waker().clone());
                }
            }
            // Checked again: a cut before the waker was stored woke nobody.
            if !this.is_cut() {
                return Pin::new(&mut this.io).poll_next(cx);
            }
        }
        let dead = this
            .dead
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(DEAD_FOR)));
        if dead.as_mut().poll(cx).is_ready() {
            return Poll::Ready(Some(Err("agent link cut".into())));
        }
        // Whatever still arrives is lost on the dead path.
        loop {
            match Pin::new(&mut this.io).poll_next(cx) {
                Poll::Ready(Some(_)) => continue,
                Poll::Ready(None) => return Poll::Ready(None),
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}

impl<T> Sink<Bytes> for Cuttable<T>
where
    T: Sink<Bytes, Error = TransportError> + Unpin,
{
    type Error = TransportError;

    fn poll_ready(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        let this = self.get_mut();
        if this.is_cut() {
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut this.io).poll_ready(cx)
    }

    fn start_send(self: Pin<&mut Self>, item: Bytes) -> Result<(), Self::Error> {
        let this = self.get_mut();
        if this.is_cut() {
            return Ok(()); // lost on the dead path
        }
        Pin::new(&mut this.io).start_send(item)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        let this = self.get_mut();
        if this.is_cut() {
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut this.io).poll_flush(cx)
    }

    /// Closes the real transport, cut or not: the agent sees the end.
    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Pin::new(&mut self.get_mut().io).poll_close(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::{SinkExt, StreamExt};

    /// A transport of in-memory channels: what is sent, what arrives.
    fn pair() -> (
        impl Stream<Item = Result<Bytes, TransportError>> + Sink<Bytes, Error = TransportError> + Unpin,
        tokio::sync::mpsc::UnboundedSender<Bytes>,
        tokio::sync::mpsc::UnboundedReceiver<Bytes>,
    ) {
        let (in_tx, in_rx) = tokio::sync::mpsc::unbounded_channel::<Bytes>();
        let (out_tx, out_rx) = tokio::sync::mpsc::unbounded_channel::<Bytes>();
        let stream = futures_util::stream::unfold(in_rx, |mut rx| async move {
            rx.recv().await.map(|b| (Ok(b), rx))
        });
        let sink = futures_util::sink::unfold(out_tx, |tx, b: Bytes| async move {
            tx.send(b).map_err(|e| Box::new(e) as TransportError)?;
            Ok::<_, TransportError>(tx)
        });
        struct Both<St, Si>(Pin<Box<St>>, Pin<Box<Si>>);
        impl<St: Stream, Si> Stream for Both<St, Si> {
            type Item = St::Item;
            fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<St::Item>> {
                self.0.as_mut().poll_next(cx)
            }
        }
        impl<St, Si: Sink<Bytes>> Sink<Bytes> for Both<St, Si> {
            type Error = Si::Error;
            fn poll_ready(
                mut self: Pin<&mut Self>,
                cx: &mut Context<'_>,
            ) -> Poll<Result<(), Si::Error>> {
                self.1.as_mut().poll_ready(cx)
            }
            fn start_send(mut self: Pin<&mut Self>, item: Bytes) -> Result<(), Si::Error> {
                self.1.as_mut().start_send(item)
            }
            fn poll_flush(
                mut self: Pin<&mut Self>,
                cx: &mut Context<'_>,
            ) -> Poll<Result<(), Si::Error>> {
                self.1.as_mut().poll_flush(cx)
            }
            fn poll_close(
                mut self: Pin<&mut Self>,
                cx: &mut Context<'_>,
            ) -> Poll<Result<(), Si::Error>> {
                self.1.as_mut().poll_close(cx)
            }
        }
        (Both(Box::pin(stream), Box::pin(sink)), in_tx, out_rx)
    }

    #[tokio::test]
    async fn a_cut_link_loses_what_crosses_it_then_fails() {
        let (io, arrive, mut sent) = pair();
        let (mut link, cut) = cuttable(io);
        arrive.send(Bytes::from_static(b"before")).expect("arrive");
        let first = link.next().await.expect("open").expect("frame");
        assert_eq!(&first[..], b"before");
        link.send(Bytes::from_static(b"out")).await.expect("send");
        assert_eq!(sent.recv().await.as_deref(), Some(&b"out"[..]));

        // A reader waiting when the cut comes is woken by it.
        let reader = tokio::spawn(async move {
            let next = link.next().await;
            (link, next)
        });
        tokio::task::yield_now().await;
        cut.cut();
        arrive.send(Bytes::from_static(b"lost")).expect("arrive");
        let started = tokio::time::Instant::now();
        let (mut link, next) = reader.await.expect("join");
        assert!(matches!(next, Some(Err(_))), "the failure, not the frame");
        assert!(
            started.elapsed() >= DEAD_FOR,
            "noticed only after the dead time"
        );
        link.send(Bytes::from_static(b"into the void"))
            .await
            .expect("sending on a dead path succeeds");
        link.close().await.expect("close");
        drop(link);
        assert_eq!(sent.recv().await, None, "nothing crossed");
    }
}
