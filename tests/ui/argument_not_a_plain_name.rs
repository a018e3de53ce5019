use fintecture_oauth::{Error, api};

#[api]
pub trait Api {
    #[endpoint(get = "/a/{id}")]
    async fn call(&self, (id, _): (&str, u8)) -> Result<(), Error>;
    #[endpoint(get = "/b/{id}")]
    async fn by_ref(&self, ref id: &str) -> Result<(), Error>;
    #[endpoint(get = "/c/{id}")]
    async fn bound(&self, id @ _: &str) -> Result<(), Error>;
}

fn main() {}
