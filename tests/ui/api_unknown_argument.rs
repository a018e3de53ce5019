use fintecture_oauth::{Error, api};

#[api(runtime = fintecture_oauth)]
pub trait Api {
    #[endpoint(get = "/a")]
    async fn call(&self) -> Result<(), Error>;
}

fn main() {}
