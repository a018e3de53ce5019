use fintecture_oauth::{Error, api};

#[api]
pub trait Api {
    #[endpoint(get = "/x", post = "/y")]
    async fn call(&self) -> Result<(), Error>;
}

fn main() {}
