use fintecture_oauth::{Error, api};

#[api]
pub trait Api {
    #[endpoint(get = "/a", cache_forever)]
    async fn call(&self) -> Result<(), Error>;
}

fn main() {}
