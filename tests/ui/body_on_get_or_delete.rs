use fintecture_oauth::{Error, api};

#[api]
pub trait Api {
    #[endpoint(get = "/x", json)]
    async fn read(&self, #[body] body: &str) -> Result<(), Error>;

    #[endpoint(delete = "/x")]
    async fn remove(&self, #[body] body: &str) -> Result<(), Error>;
}

fn main() {}
