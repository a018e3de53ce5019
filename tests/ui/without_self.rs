use fintecture_oauth::{Error, api};

#[api]
pub trait Api {
    #[endpoint(get = "/x")]
    async fn call() -> Result<(), Error>;

    #[endpoint(get = "/y")]
    async fn mutable(&mut self) -> Result<(), Error>;
}

fn main() {}
